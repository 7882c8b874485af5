@testable import Postgres
import TestSupport
import XCTest

/// The pipelined connection's life in a real pool: forgotten as soon as its backend dies, and
/// the next quick read opens a new one rather than borrowing a pooled connection.
final class PipelinedConnectionLifeTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    private static let backend = PreparedStatement(name: "test_backend_pid", sql: "SELECT pg_backend_pid()", pipelined: true)

    func testATerminatedPipelinedConnectionIsForgottenAndTheNextReadOpensAnother() async throws {
        let pool = ConnectionPool(configuration: .init(maxConnections: 2), connection: database.configuration, loop: TestDatabase.loop)
        let partition = pool.partitions[0]
        let first = try await pool.execute(Self.backend)[0].decode(Int32.self, column: 0)
        XCTAssertNotNil(partition.shared.withLock { $0.machine.pipelineConnection })

        let admin = try await database.connect()
        let terminated = try await admin.query("SELECT pg_terminate_backend($1)", [first])[0].decode(Bool.self, column: 0)
        XCTAssertEqual(terminated, true)
        await admin.close()
        try waitUntil("the pool forgets the pipelined connection of backend \(first)") {
            partition.shared.withLock { $0.machine.pipelineConnection == nil }
        }

        let second = try await pool.execute(Self.backend)[0].decode(Int32.self, column: 0)
        XCTAssertNotEqual(second, first)
        XCTAssertEqual(pool.statistics.size, 0, "answered on a new pipelined connection, not a borrowed one")
        await pool.shutdown()
        XCTAssertNil(partition.shared.withLock { $0.machine.pipelineConnection }, "shutdown closed it")
    }
}
