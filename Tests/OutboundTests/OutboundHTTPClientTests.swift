import Foundation
import Glibc
import HTTP
import Outbound
import Reactor
import Synchronization
import TestSupport
import XCTest

/// libcurl's multi-socket API on our event loop, against a real HTTP server on loopback.
final class OutboundHTTPClientTests: XCTestCase {
    /// What the receiver got: one line per request, "path body header-value".
    final class Received: Sendable {
        let lines = Mutex<[String]>([])
    }

    private var server: HTTPServer!
    private var loop: EventLoop!
    private var client: OutboundHTTPClient!
    private let received = Received()

    override func setUp() async throws {
        let received = self.received
        server = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 1)) { request in
            let line = "\(request.path) \(String(decoding: request.body, as: UTF8.self)) \(request.headers["webhook-id"] ?? "-")"
            received.lines.withLock { $0.append(line) }
            switch request.path {
            case "/slow":
                try await Task.sleep(for: .seconds(3))
                return HTTPResponse(status: 200)
            case "/busy":
                var headers = HTTPHeaders()
                headers.add("Retry-After", "7")
                return HTTPResponse(status: 429, headers: headers, body: Array("later".utf8))
            case "/redirect":
                var headers = HTTPHeaders()
                headers.add("Location", "/elsewhere")
                return HTTPResponse(status: 302, headers: headers)
            default:
                return HTTPResponse(status: 204)
            }
        }
        try server.start()
        loop = EventLoop(name: "outbound-test")
        client = OutboundHTTPClient(loop: loop)
    }

    override func tearDown() async throws {
        await client?.shutdown()
        await server?.shutdown(gracePeriod: .seconds(1))
        loop?.shutdown()
    }

    func testAPostReachesTheReceiverWithItsBodyAndHeaders() async throws {
        let body = Array(#"{"type":"contact.created","data":{"name":"Zoë"}}"#.utf8)
        let response = try await client.send(OutboundRequest(
            url: "http://127.0.0.1:\(server.port)/hook?x=1", headers: [("webhook-id", "evt_1"), ("Content-Type", "application/json")],
            body: body))
        XCTAssertEqual(response.status, 204)
        XCTAssertEqual(received.lines.withLock { $0 }, [#"/hook {"type":"contact.created","data":{"name":"Zoë"}} evt_1"#])
    }

    func testManyRequestsShareTheLoopAndEachGetsItsOwnAnswer() async throws {
        let port = server.port, client = self.client!
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try await client.send(OutboundRequest(url: "http://127.0.0.1:\(port)/n\(index)", headers: [("webhook-id", "evt_\(index)")],
                                                          body: Array("\(index)".utf8))).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(statuses, Array(repeating: 204, count: 40))
        let lines = Set(received.lines.withLock { $0 })
        XCTAssertEqual(lines, Set((0..<40).map { "/n\($0) \($0) evt_\($0)" }))
    }

    func testRetryAfterIsReadAndRedirectsAreNotFollowed() async throws {
        let busy = try await client.send(OutboundRequest(url: "http://127.0.0.1:\(server.port)/busy"))
        XCTAssertEqual(busy.status, 429)
        XCTAssertEqual(busy.retryAfter, "7")
        XCTAssertEqual(busy.body, Array("later".utf8))
        let redirect = try await client.send(OutboundRequest(url: "http://127.0.0.1:\(server.port)/redirect"))
        XCTAssertEqual(redirect.status, 302)
        XCTAssertEqual(received.lines.withLock { $0 }.count, 2, "/elsewhere never asked")
    }

    func testNoAnswerIsAnErrorTimeoutsIncluded() async throws {
        do {
            _ = try await client.send(OutboundRequest(url: "http://127.0.0.1:\(server.port)/slow", timeout: .milliseconds(300)))
            XCTFail("timed out")
        } catch let error as OutboundError {
            XCTAssertTrue(error.isTimeout, "\(error)")
        }
        // A closed port: refused.
        let closed = try FreePort.next()  // bound, then closed: nothing listens there
        do {
            _ = try await client.send(OutboundRequest(url: "http://127.0.0.1:\(closed)/x", timeout: .seconds(2)))
            XCTFail("refused")
        } catch let error as OutboundError {
            XCTAssertFalse(error.isTimeout, "\(error)")
        }
        // Only http and https.
        do {
            _ = try await client.send(OutboundRequest(url: "file:///etc/passwd"))
            XCTFail("file: is not a webhook")
        } catch is OutboundError {}
        // The loop still serves.
        let after = try await client.send(OutboundRequest(url: "http://127.0.0.1:\(server.port)/after"))
        XCTAssertEqual(after.status, 204)
    }

    func testAPinnedAddressIsTheOneConnectedTo() async throws {
        let response = try await client.send(OutboundRequest(
            url: "http://receiver.invalid:\(server.port)/pinned", pinnedAddresses: ["receiver.invalid:\(server.port):127.0.0.1"]))
        XCTAssertEqual(response.status, 204)
        XCTAssertEqual(received.lines.withLock { $0 }.first?.hasPrefix("/pinned"), true)
    }
}
