import Dispatch
import Foundation
import HTTP
import TestSupport
import XCTest

/// Many requests, many connections, awkward clients: all answered, none disturbing the others.
final class HTTPLoadTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer()
    }

    override func tearDown() async throws {
        await server?.shutdown()
    }

    private func client() throws -> RawHTTPClient {
        try RawHTTPClient(port: server.port)
    }

    func testOneHundredPipelinedRequestsInOneWriteAreAnsweredInOrder() throws {
        let connection = try client()
        try connection.send((0..<100).map { "GET /echo?n=\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
        for index in 0..<100 {
            XCTAssertEqual(try connection.readResponse().json["target"] as? String, "/echo?n=\(index)")
        }
    }

    func testARequestDeliveredOneBytePerWriteIsAnswered() throws {
        let connection = try client()
        for byte in "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".utf8 {
            try connection.send([byte])
            usleep(500)  // pacing, not waiting: the bytes reach the server in separate reads
        }
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["body"] as? String, "abc")
    }

    func testAThousandConcurrentKeepAliveConnectionsEachDoTenRequests() throws {
        let connections = try (0..<1000).map { _ in try client() }
        for round in 0..<10 {
            for (index, connection) in connections.enumerated() {
                try connection.send("GET /echo?c=\(index)&r=\(round) HTTP/1.1\r\n\r\n")
            }
            for (index, connection) in connections.enumerated() {
                let response = try connection.readResponse()
                XCTAssertEqual(response.json["target"] as? String, "/echo?c=\(index)&r=\(round)")
            }
        }
        XCTAssertEqual(server.server.openConnections, 1000)
    }

    func testTenThousandRequestsOnOneConnection() throws {
        let connection = try client()
        var answered = 0
        for batch in 0..<100 {
            try connection.send((0..<100).map { "GET /?n=\(batch * 100 + $0) HTTP/1.1\r\n\r\n" }.joined())
            for _ in 0..<100 where try connection.readResponse().status == 200 { answered += 1 }
        }
        XCTAssertEqual(answered, 10_000)
    }

    func testTwoHundredSlowClientsDoNotDelayANormalOne() throws {
        let slow = try (0..<200).map { _ in try client() }
        for connection in slow { try connection.send("GET / HTTP/1.1\r\nHost: slow\r\nX-Half: ") }
        let normal = try client()
        let started = Date()
        try normal.send("GET /echo HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try normal.readResponse().status, 200)
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.5, "answered promptly")
        let server = self.server!
        try waitUntil("the server holds all 201 connections", observe: { server.server.openConnections }) { $0 == 201 }
    }

    func testAClientClosingMidBodyOrMidResponseDisturbsNoOne() throws {
        for _ in 0..<20 {
            let midBody = try client()
            try midBody.send("POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\nonly a part")
            let midResponse = try client()
            try midResponse.send("GET /large?bytes=5000000 HTTP/1.1\r\n\r\n")
            var firstBytes = [UInt8](repeating: 0, count: 100)
            _ = recv(midResponse.fd, &firstBytes, 100, 0)
            // Closing with unread data makes the kernel send a reset.
        }
        let normal = try client()
        try normal.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try normal.readResponse().status, 200)
    }

    func testASlowHandlerDoesNotStallOtherConnections() throws {
        let slow = try client()
        try slow.send("GET /slow?ms=1500 HTTP/1.1\r\n\r\n")
        let server = self.server!
        try waitUntil("the slow request is being handled") { server.slowInFlight.value == 1 }
        let fast = try client()
        let started = Date()
        for _ in 0..<20 {
            try fast.send("GET / HTTP/1.1\r\n\r\n")
            XCTAssertEqual(try fast.readResponse().status, 200)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.0)
        XCTAssertEqual(try slow.readResponse().json["slept"] as? Int, 1500)
    }
}
