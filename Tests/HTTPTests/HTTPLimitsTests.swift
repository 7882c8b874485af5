import Foundation
import HTTP
import TestSupport
import XCTest

/// Limits and timeouts: the server protects itself and keeps serving others.
final class HTTPLimitsTests: XCTestCase {
    private var server: TestServer!

    override func tearDown() async throws {
        await server?.shutdown()
    }

    private func start(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        server = try TestServer(configure)
    }

    private func client() throws -> RawHTTPClient {
        try RawHTTPClient(port: server.port)
    }

    /// Waits until the server's open-connection gauge is `count`.
    private func waitForOpenConnections(_ count: Int, _ what: String, timeout: Duration = .seconds(5)) throws {
        let server = self.server!
        try waitUntil("\(what): \(count) open connection(s)", timeout: timeout, observe: { server.server.openConnections }) { $0 == count }
    }

    func testHeadersOver16KiBGet431() throws {
        try start()
        let longHeader = try client()
        try longHeader.send("GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 17_000))\r\n\r\n")
        let response = try longHeader.readResponse()
        XCTAssertEqual(response.status, 431)
        XCTAssertEqual(response.json["code"] as? String, "headers_too_large")
        XCTAssertTrue(longHeader.readsEndOfStream())

        let longLine = try client()
        try longLine.send("GET /\(String(repeating: "a", count: 17_000)) HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try longLine.readResponse().status, 431)
    }

    func testABodyOverTheLimitGets413BeforeItIsRead() throws {
        try start()
        let connection = try client()
        // Only the head is sent: the answer must not wait for 70,000 bytes that never come.
        try connection.send("POST /echo HTTP/1.1\r\nContent-Length: 70000\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().status, 413)

        let chunked = try client()
        try chunked.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8000\r\n" + String(repeating: "a", count: 0x8000)
            + "\r\n8000\r\n" + String(repeating: "b", count: 0x8000) + "\r\n1\r\n")
        XCTAssertEqual(try chunked.readResponse().status, 413)
    }

    func testAConfiguredBodyLimitIsEnforced() throws {
        try start { $0.limits.maxBodyBytes = 10 }
        let connection = try client()
        try connection.send("POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789")
        XCTAssertEqual(try connection.readResponse().status, 200)
        try connection.send("POST /echo HTTP/1.1\r\nContent-Length: 11\r\n\r\n0123456789x")
        XCTAssertEqual(try connection.readResponse().status, 413)
    }

    func testAClientTooSlowWithItsHeadersGets408AndIsClosed() throws {
        try start { $0.requestTimeout = .milliseconds(300) }
        let connection = try client()
        let started = Date()
        try connection.send("GET / HTTP/1.1\r\nX-Partial: ")
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(response.json["code"] as? String, "request_timeout")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 0.29)
        XCTAssertTrue(connection.readsEndOfStream())
    }

    func testTrickledBytesDoNotExtendTheRequestTimeout() throws {
        try start { $0.requestTimeout = .milliseconds(400) }
        let connection = try client()
        let started = Date()
        for byte in "GET / HTTP/1.1\r\nX-Slow: abcdefghijklmnopqrstuvwxyz".utf8 {
            if Date().timeIntervalSince(started) > 0.3 { break }
            try connection.send([byte])
            usleep(20_000)  // pacing, not waiting: a client trickling its head
        }
        XCTAssertEqual(try connection.readResponse().status, 408)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    func testAnIdleKeepAliveConnectionIsClosedQuietly() throws {
        try start { $0.idleTimeout = .milliseconds(300) }
        let connection = try client()
        try connection.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().status, 200)
        let idleSince = Date()
        XCTAssertTrue(connection.readsEndOfStream(), "closed without a response")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(idleSince), 0.25)
        try waitForOpenConnections(0, "the idle connection is closed")
    }

    func testConnectionsOverTheLimitGet503AndAreClosed() throws {
        try start { $0.maxConnections = 3 }
        let held = try (0..<3).map { _ in try client() }
        for connection in held {
            try connection.send("GET / HTTP/1.1\r\n\r\n")
            XCTAssertEqual(try connection.readResponse().status, 200)
        }
        let extra = try client()
        let refused = try extra.readResponse()
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.json["code"] as? String, "unavailable")
        XCTAssertTrue(extra.readsEndOfStream())
        try held[0].send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        _ = try held[0].readResponse()
        try waitForOpenConnections(2, "the closed connection's slot is freed")
        let next = try client()
        try next.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try next.readResponse().status, 200, "a freed slot is usable again")
    }

    func testAClientThatNeverReadsCannotMakeTheServerBufferWithoutBound() throws {
        try start { $0.idleTimeout = .milliseconds(500) }
        let greedy = try client()
        // 50 pipelined requests for 1 MB each, never read: the server writes one response at a
        // time, stops reading while it cannot write, and drops the connection once it stalls.
        let request = "GET /large?bytes=1000000 HTTP/1.1\r\n\r\n"
        try greedy.send(String(repeating: request, count: 50))
        try waitForOpenConnections(0, "a stalled writer is closed")
        let other = try client()
        try other.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try other.readResponse().status, 200)
    }
}
