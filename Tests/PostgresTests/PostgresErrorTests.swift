import Postgres
import XCTest

/// `PostgresError` as callers see it: kinds compared and named, built by its constructors, and
/// the questions callers ask (connection failure, timeout, not run) answered without a switch.
final class PostgresErrorTests: XCTestCase {
    func testEveryKindIsNamedForLogsAndComparesEqualOnlyToItself() {
        let kinds: [PostgresError.Kind] = [.server, .connectionFailed, .connectionClosed, .decoding, .client, .notRun]
        XCTAssertEqual(kinds.map(\.description), ["server", "connectionFailed", "connectionClosed", "decoding", "client", "notRun"])
        XCTAssertEqual(Set(kinds).count, kinds.count)
    }

    func testTheConstructorsSetTheirKindAndFields() {
        let client = PostgresError.client("COPY is not supported")
        XCTAssertEqual(client.kind, .client)
        XCTAssertEqual(client.message, "COPY is not supported")
        XCTAssertNil(client.sqlState)
        let decoding = PostgresError.decoding("column id is NULL", column: "id")
        XCTAssertEqual(decoding.kind, .decoding)
        XCTAssertEqual(decoding.column, "id")
        XCTAssertEqual(PostgresError.connectionFailed("refused").kind, .connectionFailed)
        let closed = PostgresError.connectionClosed("terminated", sqlState: .adminShutdown, detail: "by an operator")
        XCTAssertEqual(closed.kind, .connectionClosed)
        XCTAssertEqual(closed.sqlState, .adminShutdown)
        XCTAssertEqual(closed.detail, "by an operator")
        XCTAssertEqual(PostgresError.notRun("skipped").kind, .notRun)
    }

    func testTheQuestionsCallersAsk() {
        XCTAssertTrue(PostgresError.connectionFailed("x").isConnectionError)
        XCTAssertTrue(PostgresError.connectionClosed("x").isConnectionError)
        XCTAssertFalse(PostgresError.client("x").isConnectionError)
        XCTAssertFalse(PostgresError(kind: .server, sqlState: .uniqueViolation, message: "x").isConnectionError)

        XCTAssertTrue(PostgresError(kind: .server, sqlState: .queryCanceled, message: "x").isTimeout)
        XCTAssertTrue(PostgresError(kind: .server, sqlState: .lockNotAvailable, message: "x").isTimeout)
        XCTAssertFalse(PostgresError(kind: .server, sqlState: .deadlockDetected, message: "x").isTimeout)

        XCTAssertTrue(PostgresError.notRun("x").isNotRun)
        XCTAssertFalse(PostgresError.client("x").isNotRun)
    }

    func testAKindCanBeMatchedInASwitchWithADefault() {
        func label(_ error: PostgresError) -> String {
            switch error.kind {
            case .server: "server"
            case .connectionFailed, .connectionClosed: "connection"
            default: "other"
            }
        }
        XCTAssertEqual(label(PostgresError(kind: .server, message: "x")), "server")
        XCTAssertEqual(label(.connectionClosed("x")), "connection")
        XCTAssertEqual(label(.decoding("x")), "other")
    }

    func testTheDescriptionNamesKindStateMessageAndDetail() {
        let error = PostgresError(kind: .server, sqlState: .uniqueViolation, message: "duplicate key", detail: "Key (id)=(1) already exists.")
        XCTAssertEqual(error.description, "PostgreSQL server 23505: duplicate key (Key (id)=(1) already exists.)")
        XCTAssertEqual(PostgresError.client("no").description, "PostgreSQL client: no")
    }
}
