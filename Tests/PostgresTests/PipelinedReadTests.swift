import Postgres
import TestSupport
import XCTest

/// `ConnectionPool.execute` with pipelined statements: many callers share one pipelined
/// connection per partition, each gets its own answer, and a failing statement in a group
/// fails only itself (the others of its Sync run again).
final class PipelinedReadTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    private static let reciprocal = PreparedStatement(
        name: "test_reciprocal", sql: "SELECT 1000 / $1::int, pg_backend_pid()", pipelined: true)

    func testConcurrentReadsShareOnePipelinedConnectionAndEachGetsItsAnswer() async throws {
        var configuration = database.configuration
        configuration.applicationName = "pipeline-test"
        let pool = ConnectionPool(configuration: .init(maxConnections: 4), connection: configuration, loop: TestDatabase.loop)
        let answers = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
            for value in 1...300 {
                group.addTask {
                    let row = try await pool.execute(Self.reciprocal, [value])[0]
                    return (value, try row.decode(Int.self, column: 0), try row.decode(Int.self, column: 1))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(answers.count, 300)
        for (value, answer, _) in answers { XCTAssertEqual(answer, 1000 / value, "\(value)") }
        XCTAssertEqual(Set(answers.map(\.2)).count, 1, "one backend answered them all")
        XCTAssertEqual(pool.statistics.size, 0, "no pooled connection was borrowed")
        await pool.shutdown()
    }

    func testAFailingReadFailsAloneAndTheRestOfItsGroupRunsAgain() async throws {
        let pool = ConnectionPool(configuration: .init(maxConnections: 4), connection: database.configuration, loop: TestDatabase.loop)
        let outcomes = await withTaskGroup(of: (Int, Result<Int, PostgresError>).self) { group in
            for value in 0..<100 {
                let divisor = value % 10  // every tenth divides by zero
                group.addTask {
                    do {
                        return (divisor, .success(try await pool.execute(Self.reciprocal, [divisor])[0].decode(Int.self, column: 0)))
                    } catch let error as PostgresError {
                        return (divisor, .failure(error))
                    } catch {
                        return (divisor, .failure(PostgresError(kind: .client, message: "\(error)")))
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        for (divisor, outcome) in outcomes {
            switch outcome {
            case .success(let answer):
                XCTAssertNotEqual(divisor, 0)
                XCTAssertEqual(answer, 1000 / divisor)
            case .failure(let error):
                XCTAssertEqual(divisor, 0, "only division by zero fails: \(error)")
                XCTAssertEqual(error.sqlState?.code, "22012", "\(error)")
            }
        }
        XCTAssertEqual(outcomes.filter { $0.0 == 0 }.count, 10)
        // The pipelined connection still works afterwards.
        let after = try await pool.execute(Self.reciprocal, [8])[0].decode(Int.self, column: 0)
        XCTAssertEqual(after, 125)
        await pool.shutdown()
    }
}
