@testable import Postgres
import XCTest

/// The request queue in pipeline mode, driven without libpq: requests go out at once, one Sync
/// per turn of the loop, answers in order, and a failed group's other statements "not run".
final class PostgresRequestQueuePipelineTests: XCTestCase {
    private static let read = PreparedStatement(name: "read", sql: "SELECT $1::int", pipelined: true)
    private static let other = PreparedStatement(name: "other", sql: "SELECT 2", pipelined: true)

    private func execute(_ statement: PreparedStatement, _ tag: String = "") -> PendingRequest {
        PendingRequest(command: .prepared(statement, parameters: [tag])) { _ in }
    }

    private func pipelinedQueue() -> PostgresRequestQueue {
        var queue = PostgresRequestQueue(preparesNamedStatements: true)
        XCTAssertTrue(queue.canEnterPipelineMode)
        queue.enteredPipelineMode()
        return queue
    }

    /// The statement and first parameter of a completion, and its outcome.
    private func describe(_ actions: PostgresRequestQueue.Actions) -> String? {
        guard let (request, result) = actions.completion, case .prepared(let statement, let parameters) = request.command else { return nil }
        let outcome = switch result {
        case .success(let results): "ok \(results.map(\.commandTag))"
        case .failure(let error): "\(error.kind)\(error.sqlState.map { " \($0)" } ?? "")"
        }
        return "\(statement.name)(\(parameters[0] ?? "")) \(outcome)"
    }

    private func sent(_ actions: PostgresRequestQueue.Actions) -> String? {
        guard case .pipelined(let statement, let parameters, let prepare)? = actions.send else { return nil }
        return "\(statement.name)(\(parameters[0] ?? ""))\(prepare ? " +prepare" : "")"
    }

    func testPipelineModeStartsOnlyOnAnIdleConnection() {
        var queue = PostgresRequestQueue(preparesNamedStatements: true)
        _ = queue.enqueue(PendingRequest(command: .simple(sql: "SELECT 1")) { _ in })
        XCTAssertFalse(queue.canEnterPipelineMode, "a request is on the wire")
        _ = queue.messageEnded()
        XCTAssertTrue(queue.canEnterPipelineMode)
        queue.enteredPipelineMode()
        XCTAssertFalse(queue.canEnterPipelineMode, "already in it")
    }

    func testRequestsGoOutAtOnceAndOneSyncIsScheduledPerTurn() {
        var queue = pipelinedQueue()
        let first = queue.enqueue(execute(Self.read, "1"))
        XCTAssertEqual(sent(first), "read(1) +prepare")
        XCTAssertTrue(first.scheduleSync)
        let second = queue.enqueue(execute(Self.read, "2"))
        XCTAssertEqual(sent(second), "read(2)", "prepared once, by the first")
        XCTAssertFalse(second.scheduleSync, "the same turn's Sync covers it")
        queue.syncSent()
        XCTAssertTrue(queue.enqueue(execute(Self.read, "3")).scheduleSync, "a new turn, a new Sync")
        XCTAssertFalse(queue.hasRequestOnWire, "pipelined requests never block the queue")

        let refused = queue.enqueue(PendingRequest(command: .query(sql: "SELECT 1", parameters: [])) { _ in })
        XCTAssertNil(refused.send)
        XCTAssertEqual(refused.completion.map { (try? $0.result.get()) == nil }, true)
    }

    func testAnswersComeInOrderAtTheEndOfEachExecute() {
        var queue = pipelinedQueue()
        _ = queue.enqueue(execute(Self.read, "1"))
        _ = queue.enqueue(execute(Self.read, "2"))
        XCTAssertNil(describe(queue.messageEnded()), "the end of read(1)'s Prepare")
        queue.received(PostgresResult(commandTag: "SELECT 1"))
        XCTAssertEqual(describe(queue.messageEnded()), "read(1) ok [\"SELECT 1\"]")
        queue.received(PostgresResult(commandTag: "SELECT 1"))
        XCTAssertEqual(describe(queue.messageEnded()), "read(2) ok [\"SELECT 1\"]")
        XCTAssertFalse(queue.awaitsResults)
    }

    func testAFailureFailsItsStatementAndTheRestOfTheGroupDidNotRun() {
        var queue = pipelinedQueue()
        _ = queue.enqueue(execute(Self.read, "0"))
        _ = queue.enqueue(execute(Self.read, "1"))
        _ = queue.messageEnded()  // read(0)'s Prepare succeeded
        queue.receivedError(PostgresError(kind: .server, sqlState: SQLState("22012"), message: "division by zero"))
        XCTAssertEqual(describe(queue.messageEnded()), "read(0) server 22012")
        queue.receivedPipelineAborted()
        XCTAssertEqual(describe(queue.messageEnded()), "read(1) notRun")
        XCTAssertEqual(queue.preparedNames, ["read"], "its Prepare had run")
    }

    func testASkippedPrepareIsPreparedAgainAndARealErrorReplacesNotRun() {
        var queue = pipelinedQueue()
        _ = queue.enqueue(execute(Self.read, "0"))
        _ = queue.enqueue(execute(Self.other, "x"))
        XCTAssertEqual(queue.preparedNames, ["read", "other"])
        _ = queue.messageEnded()
        queue.receivedError(PostgresError(kind: .server, sqlState: SQLState("22012"), message: "division by zero"))
        _ = queue.messageEnded()
        queue.receivedPipelineAborted()  // other's Prepare skipped
        XCTAssertEqual(queue.preparedNames, ["read"], "never defined on the server")
        XCTAssertNil(describe(queue.messageEnded()))
        queue.receivedError(PostgresError(kind: .server, sqlState: SQLState("26000"), message: "prepared statement does not exist"))
        XCTAssertEqual(describe(queue.messageEnded()), "other(x) server 26000", "the Execute's own error is the answer")
        XCTAssertEqual(sent(queue.enqueue(execute(Self.other, "y"))), "other(y) +prepare")
    }

    func testAClosedPipelineHandsBackEverySentRequestInOrder() {
        var queue = pipelinedQueue()
        for tag in ["1", "2", "3"] { _ = queue.enqueue(execute(Self.read, tag)) }
        let handedBack = queue.close().map { request -> String in
            guard case .prepared(_, let parameters) = request.command else { return "?" }
            return parameters[0] ?? ""
        }
        XCTAssertEqual(handedBack, ["1", "2", "3"])
        XCTAssertFalse(queue.awaitsResults)
        XCTAssertEqual(queue.enqueue(execute(Self.read, "4")).completion.map { (try? $0.result.get()) == nil }, true)
    }
}
