import Foundation
import Glibc
import HTTP
import TestSupport
import XCTest

/// The buffer budget: whatever clients hold back (unfinished requests, responses they do not
/// read), the server's buffers stay within it; past its buffering share the connections that
/// have held memory longest are shed for newcomers, and whole requests are still answered.
final class HTTPMemoryBudgetTests: XCTestCase {
    private var server: TestServer!
    private static let budget = 1 << 20
    private static let bufferingShare = budget - budget / 8

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

    private var buffered: Int { server.server.bufferedBytes }
    private var shed: Int { server.server.shedConnections }
    private var paused: Int { server.server.pausedConnections }

    /// `count` connections, each holding a 15 KiB request head it never finishes; each one's
    /// bytes have reached the server (buffered, its connection paused, or an older one shed to
    /// make room) before the next is sent.
    private func partialHeads(_ count: Int) throws -> [RawHTTPClient] {
        let head = "GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 15 * 1024)
        return try (0..<count).map { index in
            let (buffered, paused, shed) = (self.buffered, self.paused, self.shed)
            let client = try RawHTTPClient(port: server.port)
            try client.send(head)
            waitFor("holder \(index) buffered, paused or made room") {
                self.buffered >= buffered + 15 * 1024 || self.paused > paused || self.shed > shed
            }
            return client
        }
    }

    // MARK: Unfinished requests

    func testPastTheBufferingShareTheOldestUnfinishedRequestsAreShedForNewcomers() throws {
        try start()
        var holders = try partialHeads(100)  // 1.5 MiB of heads against a 1 MiB budget
        let shed = self.shed
        XCTAssertGreaterThan(shed, 0, "older holders made room")
        XCTAssertEqual(paused, 0, "no newcomer was made to wait")
        XCTAssertLessThanOrEqual(buffered, Self.budget, "never past the budget")
        XCTAssertGreaterThan(buffered, Self.budget / 2, "the budget is used, not refused")

        // The shed ones got a 503 and their connection's end; the others nothing yet.
        let answered = holders.indices.filter { holders[$0].hasInput }
        XCTAssertEqual(answered.count, shed, "exactly the shed connections were answered")
        XCTAssertTrue(answered.contains(0), "the oldest went first")
        XCTAssertFalse(answered.contains(99), "the newest stays")
        for index in answered {
            let response = try holders[index].readResponse()
            XCTAssertEqual(response.status, 503)
            XCTAssertEqual(response.header("Retry-After"), "1")
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertEqual(response.json["code"] as? String, "unavailable")
            XCTAssertEqual(response.json["message"] as? String, "The server is short of memory for unfinished requests; try again shortly.")
            XCTAssertTrue(holders[index].readsEndOfStream())
        }

        // Whole requests need no buffering: answered at once, body and all.
        let normal = try RawHTTPClient(port: server.port)
        for index in 0..<20 {
            let body = "n=\(index)"
            try normal.send("POST /echo HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let response = try normal.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.json["body"] as? String, body)
        }
        // A holder that was kept finishes its request and is answered.
        try holders[99].send("\r\n\r\n")
        XCTAssertEqual(try holders[99].readResponse().status, 200)
        XCTAssertLessThanOrEqual(buffered, Self.budget)

        holders.removeAll()
        waitFor("every holder closed (open: \(server.server.openConnections), paused: \(paused))") {
            server.server.openConnections == 1 && self.paused == 0
        }
        waitFor("nothing buffered (\(buffered))") { self.buffered == 0 }
        try normal.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try normal.readResponse().status, 200)
    }

    func testPastTheBufferingShareAnExpectContinueRequestGetsIts100AndIsRead() throws {
        try start()
        let holders = try partialHeads(100)
        let client = try RawHTTPClient(port: server.port)
        try client.send("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 40000\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 100, "room was made for the body it announced")
        try client.send(String(repeating: "e", count: 40_000))
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["bodyLength"] as? Int, 40_000)
        XCTAssertLessThanOrEqual(buffered, Self.budget)
        XCTAssertEqual(holders.count, 100)
    }

    /// A request of nearly the largest size allowed (head and body), sent whole past the buffering
    /// share, is read and answered as it is: it needs no buffering and fits under the limit, so
    /// nobody is shed or paused for it. Room is less than twice its size, so a budget check that
    /// counted its body twice would refuse it.
    func testAWholeRequestOfTheLargestSizeIsReadPastTheShareWithoutSheddingAnyone() throws {
        try start()
        var holders: [RawHTTPClient] = []
        while buffered < Self.bufferingShare {
            holders += try partialHeads(1)
        }
        let room = Self.budget - buffered
        let body = String(repeating: "w", count: 64_000)
        let request = "POST /echo HTTP/1.1\r\nX-Pad: \(String(repeating: "p", count: 15_000))\r\nContent-Length: 64000\r\n\r\n" + body
        let size = request.utf8.count
        XCTAssertGreaterThan(size, 65_536, "more than a 64 KiB read")
        XCTAssertLessThanOrEqual(size, room, "it fits under the limit")
        XCTAssertGreaterThan(size + body.utf8.count, room, "but not if its body were counted twice")
        let (shedBefore, pausedBefore) = (shed, paused)

        let client = try RawHTTPClient(port: server.port)
        try client.send(request)
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["bodyLength"] as? Int, 64_000)
        XCTAssertEqual(shed, shedBefore, "nobody was shed for it")
        XCTAssertEqual(paused, pausedBefore, "and it was not paused")
        XCTAssertFalse(holders.contains { $0.hasInput }, "no holder was answered")
    }

    func testAPausedClientThatStopsSendingAfterAWholeRequestIsAnswered() throws {
        try start()
        // Requests being handled cannot be shed: 16 of them hold the budget past its share.
        let gated = try (0..<16).map { _ in
            let client = try RawHTTPClient(port: server.port)
            try client.send("POST /gated HTTP/1.1\r\nContent-Length: 60000\r\n\r\n" + String(repeating: "g", count: 60_000))
            return client
        }
        waitFor("16 handlers hold their requests (\(server.gate.waiting))") { server.gate.waiting == 16 }
        XCTAssertGreaterThanOrEqual(buffered, Self.bufferingShare)

        let client = try RawHTTPClient(port: server.port)
        let body = String(repeating: "b", count: 30_000)
        try client.send("POST /echo HTTP/1.1\r\nContent-Length: 30000\r\n\r\n" + body.prefix(10_000))
        waitFor("the client is paused: nothing can be shed for it") { self.paused == 1 }
        try client.send(String(body.dropFirst(10_000)))
        client.finishSending()

        let response = try client.readResponse()
        XCTAssertEqual(response.status, 200, "the whole request waiting in the kernel was answered")
        XCTAssertEqual(response.json["bodyLength"] as? Int, 30_000)
        XCTAssertTrue(client.readsEndOfStream())

        server.gate.open()
        for held in gated {
            XCTAssertEqual(try held.readResponse().json["gated"] as? Int, 60_000)
        }
        waitFor("nothing buffered (\(buffered))") { self.buffered == 0 }
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
        waitFor("idle connections hold nothing (\(buffered) bytes)") { self.buffered == 0 }
    }

    // MARK: Responses nobody reads

    func testResponsesNobodyReadsArePastTheLimitShedLongestStalledFirst() throws {
        try start()
        var clients: [RawHTTPClient] = []
        // 6 MB of responses against a 1 MiB budget, each too large for the kernel's buffers of a
        // slow reader to take whole: every one stays stalled, holding, until it is shed.
        for index in 0..<10 {
            let (buffered, shed) = (self.buffered, self.shed)
            let client = try RawHTTPClient(port: server.port, slowReader: true)
            try client.send("GET /large?bytes=600000 HTTP/1.1\r\n\r\n")
            waitFor("response \(index) stalled, or made room, and the budget kept (\(self.buffered) bytes)") {
                (self.buffered >= buffered + 100_000 || self.shed > shed) && self.buffered <= Self.budget
            }
            clients.append(client)
        }
        XCTAssertGreaterThan(shed, 0)
        XCTAssertThrowsError(try clients[0].readResponse(), "the first stalled longest: it was closed")
        let last = try clients[9].readResponse()
        XCTAssertEqual(last.status, 200)
        XCTAssertEqual(last.body.count, 600_000, "the newest is whole")
        clients.removeAll()
        waitFor("nothing buffered once they go (\(buffered))") { self.buffered == 0 }
    }

    func testABodyManyStalledResponsesShareIsHeldAndChargedOnce() throws {
        try start { $0.maxBufferedBytes = 64 << 20 }
        var clients: [RawHTTPClient] = []
        for index in 0..<20 {
            let buffered = self.buffered
            let client = try RawHTTPClient(port: server.port, slowReader: true)
            try client.send("GET /static HTTP/1.1\r\n\r\n")
            waitFor("response \(index) stalled") { self.buffered > buffered }
            clients.append(client)
        }
        let document = TestServer.staticBody.count
        XCTAssertLessThan(buffered, 2 * document + 20 * 1024, "at most one body per loop, not one per connection: \(buffered)")
        XCTAssertEqual(shed, 0)

        let reader = try RawHTTPClient(port: server.port)
        try reader.send("GET /static HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try reader.readResponse().body, TestServer.staticBody, "sent byte for byte")
        let head = try RawHTTPClient(port: server.port)
        try head.send("HEAD /static HTTP/1.1\r\n\r\n")
        let headResponse = try head.readResponse(bodyless: true)
        XCTAssertEqual(headResponse.header("Content-Length"), String(document))
        try head.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try head.readResponse().status, 200, "no body followed the HEAD answer")

        clients.removeAll()
        waitFor("nothing buffered once they go (\(buffered))") { self.buffered == 0 }
    }
}
