import Postgres
import TestSupport
import XCTest

final class ConnectionTests: XCTestCase {
    private var database: TestDatabase!
    private var connection: PostgresConnection!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
        connection = try await database.connect()
    }

    override func tearDown() async throws {
        await connection?.close()
        await database?.drop()
    }

    func testAParameterizedQueryReturnsTypedRowsAndItsCommandTag() async throws {
        let result = try await connection.query(
            "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, $1::int) g", [3])
        XCTAssertEqual(result.rowCount, 3)
        XCTAssertEqual(result.columns.map(\.name), ["n", "label"])
        XCTAssertEqual(result.commandTag, "SELECT 3")
        XCTAssertEqual(try result.rows.map { try $0.decode(Int64.self, column: "n") }, [1, 2, 3])
        XCTAssertEqual(try result[2].decode(String.self, column: 1), "row 3")
    }

    func testServerErrorsCarrySQLStateMessageDetailAndConstraint() async throws {
        try await connection.simpleQuery("CREATE TABLE t (id int CONSTRAINT t_pk PRIMARY KEY)")
        try await connection.query("INSERT INTO t VALUES ($1)", [1])
        do {
            try await connection.query("INSERT INTO t VALUES ($1)", [1])
            XCTFail("a duplicate key must fail")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .server)
            XCTAssertEqual(error.sqlState, .uniqueViolation)
            XCTAssertEqual(error.constraint, "t_pk")
            XCTAssertEqual(error.table, "t")
            XCTAssertEqual(error.message, "duplicate key value violates unique constraint \"t_pk\"")
            XCTAssertEqual(error.detail, "Key (id)=(1) already exists.")
        }
        // The connection is still usable after a statement error.
        let rowCount = try await connection.query("SELECT count(*) FROM t")[0].decode(Int.self, column: 0)
        XCTAssertEqual(rowCount, 1)
    }

    func testASyntaxErrorIsAServerError() async throws {
        do {
            try await connection.query("SELEC 1")
            XCTFail("must fail")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .server)
            XCTAssertEqual(error.sqlState, .syntaxError)
        }
    }

    func testSimpleQueryRunsSeveralStatementsAndReturnsEachResult() async throws {
        let results = try await connection.simpleQuery("CREATE TABLE s (v text); INSERT INTO s VALUES ('a'), ('b'); SELECT v FROM s ORDER BY v")
        XCTAssertEqual(results.map(\.commandTag), ["CREATE TABLE", "INSERT 0 2", "SELECT 2"])
        XCTAssertEqual(results[1].affectedRows, 2)
        XCTAssertEqual(try results[2].rows.map { try $0.decode(String.self, column: 0) }, ["a", "b"])
    }

    func testAnErrorInsideATransactionRollsItBack() async throws {
        try await connection.simpleQuery("CREATE TABLE tx (v int CHECK (v > 0))")
        do {
            try await connection.transaction { connection in
                try await connection.query("INSERT INTO tx VALUES ($1)", [1])
                try await connection.query("INSERT INTO tx VALUES ($1)", [-1])
            }
            XCTFail("the check must fail")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, .checkViolation)
        }
        XCTAssertTrue(connection.isIdleOutsideTransaction)
        let rowsAfterRollback = try await connection.query("SELECT count(*) FROM tx")[0].decode(Int.self, column: 0)
        XCTAssertEqual(rowsAfterRollback, 0)
    }

    func testNullIntoANonOptionalIsADecodingErrorNamingTheColumn() async throws {
        let row = try await connection.query("SELECT NULL::int AS missing, 'x' AS word")[0]
        XCTAssertNil(try row.decode(Int64?.self, column: "missing"))
        XCTAssertTrue(row.isNull(column: 0))
        XCTAssertThrowsError(try row.decode(Int64.self, column: "missing")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .decoding)
            XCTAssertEqual((error as? PostgresError)?.column, "missing")
        }
        XCTAssertThrowsError(try row.decode(Int64.self, column: "word")) { error in
            XCTAssertEqual((error as? PostgresError)?.kind, .decoding)
        }
        XCTAssertThrowsError(try row.decode(String.self, column: "nope"))
    }

    func testAParameterWithANulByteIsRefusedBeforeSending() async throws {
        do {
            try await connection.query("SELECT $1::text", ["a\u{0}b"])
            XCTFail("must fail")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .client)
            XCTAssertEqual(error.message, "parameter $1 contains a NUL byte")
        }
        XCTAssertFalse(connection.isClosed)
    }

    func testConnectingToNothingFailsWithAConnectionError() async throws {
        let configuration = PostgresConfiguration(connectionString: "host=/nonexistent-socket-dir port=1 user=nobody dbname=x")
        do {
            _ = try await PostgresConnection.connect(configuration, on: TestDatabase.loop)
            XCTFail("must fail")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionFailed)
            XCTAssertTrue(error.isConnectionError)
            XCTAssertTrue(error.message.contains("/nonexistent-socket-dir"), error.message)
        }
    }

    func testAnUnknownDatabaseFailsWithTheServersMessage() async throws {
        var configuration = database.configuration
        configuration.overrides["dbname"] = "no_such_database_here"
        do {
            _ = try await PostgresConnection.connect(configuration, on: TestDatabase.loop)
            XCTFail("must fail")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionFailed)
            XCTAssertTrue(error.message.contains("no_such_database_here"), error.message)
        }
    }

    func testAQueryAfterCloseFailsWithConnectionClosed() async throws {
        await connection.close()
        XCTAssertTrue(connection.isClosed)
        do {
            try await connection.query("SELECT 1")
            XCTFail("must fail")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionClosed)
        }
    }

    func testATerminatedBackendClosesTheConnectionAndTellsItsCloseHandler() async throws {
        let pid = try await connection.query("SELECT pg_backend_pid()")[0].decode(Int32.self, column: 0)
        let closed = AsyncStream<Void>.makeStream()
        connection.onClose { _ in closed.continuation.yield() }
        let admin = try await database.connect()
        try await admin.query("SELECT pg_terminate_backend($1)", [pid])
        await admin.close()
        var iterator = closed.stream.makeAsyncIterator()
        _ = await iterator.next()
        XCTAssertTrue(connection.isClosed, "an idle connection notices its backend is gone")
    }

    func testCopyIsRefusedWithoutStallingTheLoop() async throws {
        try await connection.simpleQuery("CREATE TABLE copy_target (x int)")
        do {
            try await connection.simpleQuery("COPY copy_target FROM STDIN")
            XCTFail("COPY FROM STDIN is not supported")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .client)
        }
        let stillUsable = try await connection.query("SELECT count(*) FROM copy_target")[0].decode(Int.self, column: 0)
        XCTAssertEqual(stillUsable, 0, "COPY IN is ended cleanly; the connection goes on")
        do {
            try await connection.simpleQuery("COPY (SELECT 1) TO STDOUT")
            XCTFail("COPY TO STDOUT is not supported")
        } catch let error as PostgresError {
            XCTAssertEqual(error.kind, .connectionClosed, "COPY OUT cannot be ended early: the connection is given up")
            XCTAssertTrue(error.message.contains("COPY"), error.message)
        }
        let other = try await database.connect()
        let answer = try await other.query("SELECT 42")[0].decode(Int.self, column: 0)
        XCTAssertEqual(answer, 42, "the event loop still serves other connections")
        await other.close()
    }
}
