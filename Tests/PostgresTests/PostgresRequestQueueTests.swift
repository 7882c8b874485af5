@testable import Postgres
import XCTest

/// The request queue's rules, driven without libpq, a socket or a clock: what goes out when,
/// who is answered with what, and what a broken connection hands back.
final class PostgresRequestQueueTests: XCTestCase {
    typealias Queue = PostgresRequestQueue

    private static let byName = PreparedStatement(name: "by_name", sql: "SELECT $1::int")
    private static let eachTime = PreparedStatement(name: "each_time", sql: "SELECT $1::text", plannedEachTime: true)

    private func request(_ command: Command) -> PendingRequest {
        PendingRequest(command: command) { _ in }
    }

    private func query(_ sql: String) -> PendingRequest {
        request(.query(sql: sql, parameters: []))
    }

    /// What a message says, for comparing.
    private func describe(_ message: Queue.Message?) -> String? {
        switch message {
        case .query(let sql, let parameters)?: "query \(sql) \(parameters.count)"
        case .prepare(let statement, let count)?: "prepare \(statement.name) \(count)"
        case .executePrepared(let name, let parameters)?: "execute \(name) \(parameters.count)"
        case .simple(let sql)?: "simple \(sql)"
        case .pipelined(let statement, _, let prepare)?: "pipelined \(statement.name)\(prepare ? " +prepare" : "")"
        case nil: nil
        }
    }

    /// The request a completion answers, and its outcome, for comparing.
    private func describe(_ completion: (request: PendingRequest, result: Result<[PostgresResult], PostgresError>)?) -> String? {
        guard let completion else { return nil }
        let name = switch completion.request.command {
        case .query(let sql, _), .simple(let sql), .copy(let sql): sql
        case .prepared(let statement, _): statement.name
        }
        switch completion.result {
        case .success(let results): return "\(name) ok \(results.map(\.commandTag))"
        case .failure(let error): return "\(name) \(error.kind)\(error.sqlState.map { " \($0)" } ?? "")"
        }
    }

    private func serverError(_ state: SQLState) -> PostgresError {
        PostgresError(kind: .server, sqlState: state, message: "failed")
    }

    func testRequestsGoOutOneAtATimeInOrderAndEachIsAnsweredWithItsResults() {
        var queue = Queue(preparesNamedStatements: true)
        let first = queue.enqueue(query("SELECT 1"))
        XCTAssertEqual(describe(first.send), "query SELECT 1 0")
        XCTAssertTrue(first.sendStartsRequest, "a new request checks the session is alive first")
        XCTAssertNil(describe(queue.enqueue(request(.simple(sql: "BEGIN; SELECT 2"))).send), "waits for the first")
        XCTAssertTrue(queue.hasRequestOnWire)

        queue.received(PostgresResult(commandTag: "SELECT 1"))
        let answered = queue.messageEnded()
        XCTAssertEqual(describe(answered.completion), "SELECT 1 ok [\"SELECT 1\"]")
        XCTAssertEqual(describe(answered.send), "simple BEGIN; SELECT 2")
        XCTAssertNil(answered.closeWith)

        queue.received(PostgresResult(commandTag: "BEGIN"))
        queue.received(PostgresResult(commandTag: "SELECT 1"))
        let second = queue.messageEnded()
        XCTAssertEqual(describe(second.completion), "BEGIN; SELECT 2 ok [\"BEGIN\", \"SELECT 1\"]")
        XCTAssertNil(second.send)
        XCTAssertFalse(queue.awaitsResults)
    }

    func testANamedStatementIsPreparedOnceThenExecutedByName() {
        var queue = Queue(preparesNamedStatements: true)
        let prepare = queue.enqueue(request(.prepared(Self.byName, parameters: ["7"])))
        XCTAssertEqual(describe(prepare.send), "prepare by_name 1")
        queue.received(PostgresResult(commandTag: ""))
        let execute = queue.messageEnded()
        XCTAssertNil(execute.completion, "the Prepare's end is not the request's")
        XCTAssertEqual(describe(execute.send), "execute by_name 1")
        XCTAssertFalse(execute.sendStartsRequest)
        queue.received(PostgresResult(commandTag: "SELECT 1"))
        XCTAssertEqual(describe(queue.messageEnded().completion), "by_name ok [\"SELECT 1\"]", "the Prepare's result is not part of the answer")
        XCTAssertEqual(queue.preparedNames, ["by_name"])

        XCTAssertEqual(describe(queue.enqueue(request(.prepared(Self.byName, parameters: ["8"]))).send), "execute by_name 1")
    }

    func testStatementsPlannedEachTimeAndUnnamedModeAreSentWhole() {
        var named = Queue(preparesNamedStatements: true)
        XCTAssertEqual(describe(named.enqueue(request(.prepared(Self.eachTime, parameters: ["a"]))).send), "query SELECT $1::text 1")
        var unnamed = Queue(preparesNamedStatements: false)
        XCTAssertEqual(describe(unnamed.enqueue(request(.prepared(Self.byName, parameters: ["1"]))).send), "query SELECT $1::int 1")
        XCTAssertTrue(unnamed.preparedNames.isEmpty)
    }

    func testAFailedPrepareFailsTheRequestAndIsPreparedAgainNextTime() {
        var queue = Queue(preparesNamedStatements: true)
        _ = queue.enqueue(request(.prepared(Self.byName, parameters: [])))
        _ = queue.enqueue(query("SELECT next"))
        queue.receivedError(serverError(.undefinedTable))
        queue.receivedError(serverError(.syntaxError))
        let failed = queue.messageEnded()
        XCTAssertEqual(describe(failed.completion), "by_name server 42P01", "the first error is the request's")
        XCTAssertEqual(describe(failed.send), "query SELECT next 0", "the next request starts")
        XCTAssertTrue(queue.preparedNames.isEmpty)
        _ = queue.messageEnded()
        XCTAssertEqual(describe(queue.enqueue(request(.prepared(Self.byName, parameters: []))).send), "prepare by_name 0")
    }

    func testABrokenConnectionAnswersItsRequestThenHandsBackTheRestInOrder() {
        var queue = Queue(preparesNamedStatements: true)
        _ = queue.enqueue(query("SELECT 1"))
        _ = queue.enqueue(query("SELECT 2"))
        _ = queue.enqueue(query("SELECT 3"))
        queue.receivedError(.connectionClosed("terminating connection", sqlState: .adminShutdown))
        let ended = queue.messageEnded()
        XCTAssertEqual(describe(ended.completion), "SELECT 1 connectionClosed 57P01")
        XCTAssertEqual(ended.closeWith?.sqlState, .adminShutdown)
        XCTAssertNil(ended.send, "nothing more goes into a dead session")
        XCTAssertEqual(queue.close().map { describe(($0, .success([]))) }, ["SELECT 2 ok []", "SELECT 3 ok []"])
        XCTAssertEqual(describe(queue.enqueue(query("SELECT 4")).completion), "SELECT 4 connectionClosed")
        XCTAssertFalse(queue.canEnterPipelineMode)
    }

    func testARefusedSendFailsOnlyItsRequestWhileTheConnectionIsUsable() {
        var queue = Queue(preparesNamedStatements: true)
        _ = queue.enqueue(query("SELECT 1"))
        _ = queue.enqueue(query("SELECT 2"))
        let refused = queue.sendRefused("out of memory", connectionUsable: true)
        XCTAssertEqual(describe(refused.completion), "SELECT 1 client")
        XCTAssertEqual(describe(refused.send), "query SELECT 2 0")
        let broken = queue.sendRefused("server closed the connection", connectionUsable: false)
        XCTAssertNil(broken.completion)
        XCTAssertEqual(broken.closeWith?.kind, .connectionClosed)
        XCTAssertEqual(queue.close().count, 1, "SELECT 2 is failed by the close")
    }

    func testACopyIsAnsweredWithTheRefusalNotTheServersError() {
        var queue = Queue(preparesNamedStatements: true)
        _ = queue.enqueue(request(.simple(sql: "COPY t FROM STDIN")))
        queue.refusedCopy(.client("COPY is not supported by this client"))
        queue.receivedError(serverError(SQLState("57014")))
        XCTAssertEqual(describe(queue.messageEnded().completion), "COPY t FROM STDIN client")
    }
}
