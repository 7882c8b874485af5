import Postgres
import TestSupport
import XCTest

final class PreparedStatementTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    private let square = PreparedStatement(name: "test_square", sql: "SELECT $1::bigint * $1::bigint")

    /// Runs `statement` 10 times on `connection` and returns how many statements the server holds.
    private func runTenTimes(_ statement: PreparedStatement, on connection: PostgresConnection) async throws -> Int {
        for value in 1...10 {
            let result = try await connection.execute(statement, [value])
            XCTAssertEqual(try result[0].decode(Int.self, column: 0), value * value)
        }
        return try await connection.query("SELECT count(*) FROM pg_prepared_statements")[0].decode(Int.self, column: 0)
    }

    func testAStatementPlannedEachTimeIsNeverPrepared() async throws {
        let connection = try await database.connect()
        let planned = PreparedStatement(name: "test_square_planned", sql: square.sql, plannedEachTime: true)
        let held = try await runTenTimes(planned, on: connection)
        XCTAssertEqual(held, 0)
        XCTAssertEqual(connection.prepareCount, 0)
        await connection.close()
    }

    func testUnnamedStatementModeNeverPrepares() async throws {
        var configuration = database.configuration
        configuration.statementMode = .unnamed
        let connection = try await PostgresConnection.connect(configuration, on: TestDatabase.loop)
        let held = try await runTenTimes(square, on: connection)
        XCTAssertEqual(held, 0, "nothing for PgBouncer to lose between server connections")
        XCTAssertEqual(connection.prepareCount, 0)
        await connection.close()

        let named = try await database.connect()
        let namedHeld = try await runTenTimes(square, on: named)
        XCTAssertEqual(namedHeld, 1, "the default prepares")
        await named.close()
    }

    func testAStatementIsPreparedOncePerConnectionAndReused() async throws {
        let connection = try await database.connect()
        for value in 1...100 {
            let result = try await connection.execute(square, [value])
            XCTAssertEqual(try result[0].decode(Int.self, column: 0), value * value)
        }
        XCTAssertEqual(connection.prepareCount, 1)
        let prepared = try await connection.query(
            "SELECT count(*), min(prepare_time) = max(prepare_time) FROM pg_prepared_statements WHERE name = $1",
            [square.name])[0]
        XCTAssertEqual(try prepared.decode(Int.self, column: 0), 1, "one server-side statement")
        await connection.close()
    }

    func testEachConnectionPreparesForItself() async throws {
        let first = try await database.connect()
        let second = try await database.connect()
        _ = try await first.execute(square, [2])
        _ = try await second.execute(square, [3])
        _ = try await second.execute(square, [4])
        XCTAssertEqual(first.prepareCount, 1)
        XCTAssertEqual(second.prepareCount, 1)
        await first.close()
        await second.close()
    }

    func testAStatementThatFailsToPrepareIsNotRememberedAsPrepared() async throws {
        let connection = try await database.connect()
        let broken = PreparedStatement(name: "test_later_table", sql: "SELECT count(*) FROM later_table")
        do {
            _ = try await connection.execute(broken)
            XCTFail("the table does not exist yet")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, .undefinedTable)
        }
        try await connection.simpleQuery("CREATE TABLE later_table (x int)")
        let count = try await connection.execute(broken)[0].decode(Int.self, column: 0)
        XCTAssertEqual(count, 0)
        XCTAssertEqual(connection.prepareCount, 2)
        await connection.close()
    }

    func testExecutionErrorsKeepThePreparedStatement() async throws {
        let connection = try await database.connect()
        let divide = PreparedStatement(name: "test_divide", sql: "SELECT 10 / $1::int")
        let firstQuotient = try await connection.execute(divide, [2])[0].decode(Int.self, column: 0)
        XCTAssertEqual(firstQuotient, 5)
        do {
            _ = try await connection.execute(divide, [0])
            XCTFail("division by zero")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, SQLState("22012"))
        }
        let quotient = try await connection.execute(divide, [5])[0].decode(Int.self, column: 0)
        XCTAssertEqual(quotient, 2)
        XCTAssertEqual(connection.prepareCount, 1)
        await connection.close()
    }
}
