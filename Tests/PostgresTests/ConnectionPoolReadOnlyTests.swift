import Postgres
import TestSupport
import XCTest

/// The pool on a server that refuses writes as read-only (`25006`), as a standby does, or an
/// old primary that came back as one after a failover (API.md §14): the connection is dropped,
/// the work tried once more on a new one, and a server still read-only is told from a real
/// error as a connection failure (the service's `503`).
final class ConnectionPoolReadOnlyTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
        try await admin("CREATE TABLE writes (n int)")
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    private func admin(_ sql: String) async throws {
        let connection = try await database.connect(applicationName: "read-only-admin")
        // The administrator's own session may write whatever the database's default says.
        try await connection.simpleQuery("SET default_transaction_read_only = off")
        try await connection.simpleQuery(sql)
        await connection.close()
    }

    private func count() async throws -> Int {
        let connection = try await database.connect(applicationName: "read-only-admin")
        defer { Task { await connection.close() } }
        return try await connection.query("SELECT count(*) FROM writes")[0].decode(Int.self, column: 0)
    }

    private func insert(_ pool: ConnectionPool, _ n: Int) async throws {
        try await pool.withConnection { try await $0.query("INSERT INTO writes VALUES ($1)", [n]) }
    }

    func testAWriteOnAConnectionToAReadOnlyServerRunsAgainOnANewConnection() async throws {
        try await admin("ALTER DATABASE \(database.name) SET default_transaction_read_only = on")
        let pool = ConnectionPool(configuration: ConnectionPoolConfiguration(maxConnections: 1),
                                  connection: database.configuration, loop: TestDatabase.loop)
        // The pool's one connection opens while the server is read-only…
        _ = try await pool.withConnection { try await $0.query("SELECT 1") }
        XCTAssertEqual(pool.statistics.size, 1)
        // …and the server turns writable, as the new primary after a promotion.
        try await admin("ALTER DATABASE \(database.name) RESET default_transaction_read_only")
        try await insert(pool, 1)
        let afterFirst = try await count()
        XCTAssertEqual(afterFirst, 1, "written once, on the new connection")
        XCTAssertEqual(pool.statistics.size, 1, "the read-only connection was dropped, not lent again")
        try await insert(pool, 2)
        let afterSecond = try await count()
        XCTAssertEqual(afterSecond, 2)
        await pool.shutdown()
    }

    func testAServerStillReadOnlyIsAConnectionFailureNotAServerError() async throws {
        try await admin("ALTER DATABASE \(database.name) SET default_transaction_read_only = on")
        let pool = ConnectionPool(configuration: ConnectionPoolConfiguration(maxConnections: 2),
                                  connection: database.configuration, loop: TestDatabase.loop)
        do {
            try await insert(pool, 1)
            XCTFail("a read-only server wrote")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionFailed, "\(error)")
            XCTAssertTrue(error.isConnectionError)
        }
        XCTAssertEqual(pool.statistics.size, 0, "both read-only connections dropped")
        let written = try await count()
        XCTAssertEqual(written, 0)
        // A real error on a writable server stays what it is, and its connection is kept.
        try await admin("ALTER DATABASE \(database.name) RESET default_transaction_read_only")
        do {
            try await pool.withConnection { try await $0.query("INSERT INTO writes VALUES ('x')") }
            XCTFail("bad input accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .server)
            XCTAssertEqual(error.sqlState?.code, "22P02")
            XCTAssertFalse(error.isReadOnlyServer)
        }
        XCTAssertEqual(pool.statistics.size, 1)
        await pool.shutdown()
    }
}
