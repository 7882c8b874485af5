import HTTP
import TestSupport
import XCTest

/// The server over real TCP: what a well-behaved client sees.
final class HTTPServerTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer()
    }

    override func tearDown() async throws {
        await server?.shutdown()
    }

    private func client(host: String = "127.0.0.1") throws -> RawHTTPClient {
        try RawHTTPClient(port: server.port, host: host)
    }

    func testKeepAliveServesSeveralRequestsOnOneConnectionWithLengthAndDate() throws {
        let connection = try client()
        for index in 0..<3 {
            try connection.send("GET /echo?n=\(index) HTTP/1.1\r\nHost: test\r\n\r\n")
            let response = try connection.readResponse()
            XCTAssertEqual(response.status, 200)
            XCTAssertEqual(response.json["target"] as? String, "/echo?n=\(index)")
            XCTAssertEqual(response.header("Content-Length"), String(response.body.count))
            XCTAssertNotNil(response.header("Date")?.range(of: #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$"#, options: .regularExpression))
            XCTAssertNil(response.header("Connection"))
        }
    }

    func testHTTP10IsAnsweredThenClosedUnlessItAsksForKeepAlive() throws {
        let plain = try client()
        try plain.send("GET /echo HTTP/1.0\r\n\r\n")
        let first = try plain.readResponse()
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.json["version"] as? String, "HTTP/1.0")
        XCTAssertEqual(first.header("Connection"), "close")
        XCTAssertTrue(plain.readsEndOfStream())

        let keepAlive = try client()
        try keepAlive.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(try keepAlive.readResponse().header("Connection"), "keep-alive")
        try keepAlive.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        XCTAssertEqual(try keepAlive.readResponse().status, 200, "still open")
    }

    func testConnectionCloseIsHonoured() throws {
        let connection = try client()
        try connection.send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(connection.readsEndOfStream())
    }

    func testHeadGetsTheLengthButNoBody() throws {
        let connection = try client()
        try connection.send("HEAD /large?bytes=1234 HTTP/1.1\r\n\r\n")
        let head = try connection.readResponse(bodyless: true)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), "1234")
        try connection.send("GET /large?bytes=10 HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().bodyText, "xxxxxxxxxx", "no body bytes were left over from HEAD")
    }

    func testAChunkedBodyReachesTheHandlerDechunked() throws {
        let connection = try client()
        try connection.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n")
        let response = try connection.readResponse()
        XCTAssertEqual(response.json["body"] as? String, "Wikipedia")
        XCTAssertEqual(response.json["bodyLength"] as? Int, 9)
    }

    func testExpectContinueGetsA100BeforeTheBodyIsSent() throws {
        let connection = try client()
        try connection.send("POST /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try connection.readResponse()
        XCTAssertEqual(interim.status, 100)
        try connection.send("hello")
        let final = try connection.readResponse()
        XCTAssertEqual(final.status, 200)
        XCTAssertEqual(final.json["body"] as? String, "hello")
    }

    func testADeclaredBodyOverTheLimitGets413WithoutA100() throws {
        let connection = try client()
        try connection.send("POST /echo HTTP/1.1\r\nContent-Length: 70000\r\nExpect: 100-continue\r\n\r\n")
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.json["code"] as? String, "payload_too_large")
        XCTAssertEqual(response.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertTrue(connection.readsEndOfStream())
    }

    func testMalformedRequestsGet400AndTheConnectionIsClosed() throws {
        let requests = [
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
            "GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: 1\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
            "NOT A REQUEST\r\n\r\n",
        ]
        for request in requests {
            let connection = try client()
            try connection.send(request)
            let response = try connection.readResponse()
            XCTAssertEqual(response.status, 400, request)
            XCTAssertEqual(response.json["status"] as? String, "error")
            XCTAssertEqual(response.json["code"] as? String, "invalid_parameter")
            XCTAssertEqual(response.header("Connection"), "close")
            XCTAssertTrue(connection.readsEndOfStream(), request)
        }
    }

    func testBareLFRequestsAreAccepted() throws {
        let connection = try client()
        try connection.send("GET /echo HTTP/1.1\nHost: x\n\n")
        XCTAssertEqual(try connection.readResponse().status, 200)
    }

    func testAThrowingHandlerGives500AndTheServerKeepsServing() throws {
        let connection = try client()
        try connection.send("GET /throw HTTP/1.1\r\n\r\n")
        let failure = try connection.readResponse()
        XCTAssertEqual(failure.status, 500)
        XCTAssertEqual(failure.json["code"] as? String, "internal")
        XCTAssertEqual(failure.json["message"] as? String, "An unexpected error occurred.")
        try connection.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().status, 200, "same connection still works")
    }

    func testHeaderValuesWithLineBreaksNeverReachTheWire() throws {
        let connection = try client()
        try connection.send("GET /unsafe-header HTTP/1.1\r\n\r\n")
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertNil(response.header("X-Echo"))
        XCTAssertNil(response.header("Set-Cookie"))
        XCTAssertEqual(response.header("X-Fine"), "yes")
    }

    func testIPv4AndIPv6ClientsAreServedAndTheirAddressesReported() throws {
        let v4 = try client(host: "127.0.0.1")
        try v4.send("GET /echo HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try v4.readResponse().json["peer"] as? String, "127.0.0.1")
        let v6 = try client(host: "::1")
        try v6.send("GET /echo HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try v6.readResponse().json["peer"] as? String, "::1")
    }
}
