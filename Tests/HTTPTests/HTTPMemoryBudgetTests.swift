import Foundation
import HTTP
import TestSupport
import XCTest

/// The buffer budget: whatever clients hold back, the server's buffers stay within it, whole
/// requests are still answered, and paused clients are served once memory frees.
final class HTTPMemoryBudgetTests: XCTestCase {
    private var server: TestServer!
    private static let budget = 1 << 20

    override func tearDown() async throws {
        await server?.shutdown()
    }

    private func start(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        server = try TestServer {
            $0.maxBufferedBytes = Self.budget
            $0.requestTimeout = .seconds(60)
            configure(&$0)
        }
    }

    /// Waits up to `seconds` for `condition`, polling; fails with `message` if it never holds.
    private func waitFor(_ message: @autoclosure () -> String, seconds: Double = 10, _ condition: () -> Bool) {
        let end = Date().addingTimeInterval(seconds)
        while !condition() {
            guard Date() < end else { return XCTFail("not within \(seconds) s: \(message())") }
            usleep(5_000)
        }
    }

    /// `count` connections, each holding a 15 KiB request head it never finishes; each one's
    /// bytes have reached the server (buffered, or its connection paused) before the next is sent.
    private func partialHeads(_ count: Int) throws -> [RawHTTPClient] {
        let head = "GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 15 * 1024)
        return try (0..<count).map { index in
            let (buffered, paused) = (server.server.bufferedBytes, server.server.pausedConnections)
            let client = try RawHTTPClient(port: server.port)
            try client.send(head)
            waitFor("holder \(index) buffered or paused") {
                server.server.bufferedBytes >= buffered + 15 * 1024 || server.server.pausedConnections > paused
            }
            return client
        }
    }

    func testUnfinishedRequestsPastTheBudgetArePausedAndWholeOnesStillAnswered() throws {
        try start()
        var holders = try partialHeads(100)  // 1.5 MiB of heads against a 1 MiB budget
        XCTAssertGreaterThan(server.server.pausedConnections, 0, "some were paused")
        XCTAssertEqual(server.server.openConnections, 100, "none refused")
        XCTAssertLessThanOrEqual(server.server.bufferedBytes, Self.budget, "never past the budget")
        XCTAssertGreaterThan(server.server.bufferedBytes, Self.budget / 2, "the budget is used, not refused")

        // Whole requests need no buffering: answered at once, body and all.
        let normal = try RawHTTPClient(port: server.port)
        for index in 0..<20 {
            let body = "n=\(index)"
            try normal.send("POST /echo HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let response = try normal.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.json["body"] as? String, body)
        }
        XCTAssertLessThanOrEqual(server.server.bufferedBytes, Self.budget)

        holders.removeAll()  // they go: held ones see the end of their stream, paused ones resume and see it too
        waitFor("every holder closed (open: \(server.server.openConnections), paused: \(server.server.pausedConnections))") {
            server.server.openConnections == 1 && server.server.pausedConnections == 0
        }
        waitFor("nothing buffered (\(server.server.bufferedBytes))") { server.server.bufferedBytes == 0 }
        try normal.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try normal.readResponse().status, 200)
    }

    func testAPausedClientIsServedOnceMemoryFrees() throws {
        try start()
        var holders = try partialHeads(100)
        let paused = server.server.pausedConnections
        let late = try RawHTTPClient(port: server.port)
        let body = String(repeating: "b", count: 20_000)
        try late.send("POST /echo HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body.prefix(10_000))
        waitFor("the late client is paused too") { server.server.pausedConnections == paused + 1 }
        try late.send(String(body.dropFirst(10_000)))

        holders.removeAll()
        let response = try late.readResponse()
        XCTAssertEqual(response.status, 200, "answered once the holders left")
        XCTAssertEqual(response.json["bodyLength"] as? Int, 20_000)
    }

    func testConnectionsBetweenRequestsHoldNoBuffers() throws {
        try start { $0.maxBufferedBytes = 128 << 20 }
        let body = String(repeating: "c", count: 60_000)
        let clients = try (0..<50).map { _ in
            let client = try RawHTTPClient(port: server.port)
            try client.send("POST /echo HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            XCTAssertEqual(try client.readResponse().json["bodyLength"] as? Int, 60_000)
            return client
        }
        XCTAssertEqual(server.server.openConnections, clients.count, "all still open, idle")
        waitFor("idle connections hold nothing (\(server.server.bufferedBytes) bytes)") { server.server.bufferedBytes == 0 }
    }
}
