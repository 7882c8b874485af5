import Dispatch
import Foundation
import HTTP
import Synchronization
import TestSupport
import XCTest

/// A handler that does not answer in time: the client gets `503` with `Retry-After`, the
/// handler's task is cancelled, and the connection carries on with the next request.
final class HTTPHandlerTimeoutTests: XCTestCase {
    private var server: HTTPServer!
    private let handlers = Handlers()

    /// What the test's handlers share with the test: gates they wait on, and what happened.
    final class Handlers: Sendable {
        /// Continuations of handlers waiting on a gate, by gate name.
        let gates = Mutex<[String: CheckedContinuation<Void, Never>]>([:])
        let cancelled = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let returning = DispatchSemaphore(value: 0)

        /// Waits until the test opens `name`, whatever happens to the task meanwhile.
        func wait(at name: String) async {
            await withCheckedContinuation { continuation in
                gates.withLock { $0[name] = continuation }
                started.signal()
            }
        }

        func open(_ name: String) {
            gates.withLock { $0.removeValue(forKey: name) }?.resume()
        }

        @Sendable
        func handle(_ request: HTTPRequest) async throws -> HTTPResponse {
            switch request.path {
            case "/hang":  // never answers; notices only that it is cancelled
                await withTaskCancellationHandler {
                    while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                } onCancel: {
                    self.cancelled.signal()
                }
                return .json(status: 200, #"{"never":"seen"}"#)
            case "/stubborn", "/held":  // ignores cancellation: answers when the test opens its gate
                await wait(at: String(request.path.dropFirst()))
                if request.path == "/stubborn" { returning.signal() }
                return .json(status: 200, #"{"from":"\#(request.path.dropFirst())"}"#)
            default:
                return .json(status: 200, #"{"from":"fast"}"#)
            }
        }
    }

    override func tearDown() async throws {
        for name in ["stubborn", "held"] { handlers.open(name) }
        await server?.shutdown(gracePeriod: .seconds(2))
    }

    private func start(handlerTimeout: Duration, timedOut: (@Sendable (HTTPHandlerTimeout) -> HTTPResponse)? = nil) throws {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 1, errorResponse: TestErrorResponse.json)
        configuration.handlerTimeout = handlerTimeout
        configuration.handlerTimedOut = timedOut
        server = HTTPServer(configuration: configuration, handler: handlers.handle)
        try server.start()
    }

    func testAHandlerThatNeverAnswersGets503WithRetryAfterAndIsCancelled() throws {
        try start(handlerTimeout: .milliseconds(300))
        let client = try RawHTTPClient(port: server.port, timeout: 5)
        let started = Date()
        try client.send("GET /hang HTTP/1.1\r\n\r\n")
        let response = try client.readResponse()
        let took = Date().timeIntervalSince(started)
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.header("Retry-After"), "1")
        XCTAssertEqual(response.json["status"] as? String, "error")
        XCTAssertEqual(response.json["code"] as? String, "unavailable")
        XCTAssertEqual(response.json["message"] as? String, "The request took too long to handle; try again shortly.")
        XCTAssertNil(response.header("Connection"), "the connection stays open")
        XCTAssertGreaterThanOrEqual(took, 0.29, "not before the deadline")
        XCTAssertLessThan(took, 2, "soon after it")
        XCTAssertEqual(handlers.cancelled.wait(timeout: .now() + 5), .success, "the handler's task was cancelled")

        try client.send("GET /next HTTP/1.1\r\n\r\n")
        let next = try client.readResponse()
        XCTAssertEqual(next.status, 200, "the same connection serves the next request")
        XCTAssertEqual(next.json["from"] as? String, "fast")
    }

    func testALateAnswerIsNeverTakenForTheNextRequestsAnswer() throws {
        try start(handlerTimeout: .milliseconds(300))
        let client = try RawHTTPClient(port: server.port, timeout: 5)
        try client.send("GET /stubborn HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 503)
        // The next request is being handled when the first handler finally answers.
        try client.send("GET /held HTTP/1.1\r\n\r\n")
        XCTAssertEqual(handlers.started.wait(timeout: .now() + 5), .success)  // /stubborn's
        XCTAssertEqual(handlers.started.wait(timeout: .now() + 5), .success)  // /held's
        handlers.open("stubborn")
        // /stubborn's task hands its answer over in the job that signals this, on the loop's
        // thread; /held resumes in a later job of that thread, so the late answer came first.
        XCTAssertEqual(handlers.returning.wait(timeout: .now() + 5), .success)
        handlers.open("held")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["from"] as? String, "held", "the late answer was dropped")
    }

    func testAClientThatAskedToCloseIsClosedAfterThe503() throws {
        try start(handlerTimeout: .milliseconds(200))
        let client = try RawHTTPClient(port: server.port, timeout: 5)
        try client.send("GET /hang HTTP/1.1\r\nConnection: close\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(client.readsEndOfStream())
    }

    func testTheTimeoutHookGetsTheRequestAndWhatItReturnsIsSent() throws {
        let reported = Mutex<[(path: String, number: UInt64, elapsed: Duration, status: HTTPStatus)]>([])
        try start(handlerTimeout: .milliseconds(300)) { timeout in
            reported.withLock { $0.append((String(timeout.request.path), timeout.request.number, timeout.elapsed, timeout.response.status)) }
            var response = timeout.response
            response.headers.set("X-Request-Number", String(timeout.request.number))
            return response
        }
        let client = try RawHTTPClient(port: server.port, timeout: 5)
        try client.send("GET /hang HTTP/1.1\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(response.header("Retry-After"), "1", "the server's 503, as the hook returned it")
        let report = reported.withLock { $0 }
        XCTAssertEqual(report.count, 1)
        XCTAssertEqual(report.first?.path, "/hang")
        XCTAssertEqual(report.first?.status, 503)
        XCTAssertGreaterThanOrEqual(report.first?.elapsed ?? .zero, .milliseconds(300))
        XCTAssertGreaterThan(report.first?.number ?? 0, 0, "a request the server read is numbered")
        XCTAssertEqual(response.header("X-Request-Number"), report.first.map { String($0.number) })
        XCTAssertEqual(handlers.cancelled.wait(timeout: .now() + 5), .success, "and the handler's task was cancelled")
    }

    func testAnAbandonedHandlerKeepsItsRequestChargedUntilItEnds() throws {
        try start(handlerTimeout: .milliseconds(300))
        let client = try RawHTTPClient(port: server.port, timeout: 5)
        try client.send("POST /stubborn HTTP/1.1\r\nContent-Length: 50000\r\n\r\n" + String(repeating: "s", count: 50_000))
        XCTAssertEqual(handlers.started.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(try client.readResponse().status, 503)
        XCTAssertGreaterThanOrEqual(server.bufferedBytes, 50_000, "the handler's task still holds the request's body")
        handlers.open("stubborn")
        XCTAssertEqual(handlers.returning.wait(timeout: .now() + 5), .success)
        let end = Date().addingTimeInterval(5)
        while server.bufferedBytes != 0, Date() < end { usleep(5_000) }
        XCTAssertEqual(server.bufferedBytes, 0, "released once the task ended")
    }
}
