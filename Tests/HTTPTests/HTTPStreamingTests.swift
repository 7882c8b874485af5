import Glibc
import HTTP
import TestSupport
import XCTest

/// Streamed request bodies and streamed responses over real TCP: whole, in order, held back by
/// the slower side, and ended cleanly when either side gives up.
final class HTTPStreamingTests: XCTestCase {
    private var server: TestServer!

    override func setUpWithError() throws {
        server = try TestServer { $0.requestTimeout = .seconds(1) }
    }

    override func tearDown() async throws {
        await server?.shutdown()
    }

    private func client(timeout: Double = 5, slowReader: Bool = false) throws -> RawHTTPClient {
        try RawHTTPClient(port: server.port, timeout: timeout, slowReader: slowReader)
    }

    private static func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 251) }
    }

    private static func sum(_ bytes: [UInt8]) -> UInt32 {
        bytes.reduce(UInt32(0)) { $0 &+ UInt32($1) }
    }

    // MARK: Request bodies

    func testAStreamedBodyArrivesWholeWithContentLengthAndTheConnectionIsKept() throws {
        let body = Self.bytes(3 << 20)  // 3 MiB: over the buffered limit (64 KiB), under the streamed one
        let connection = try client()
        try connection.send(Array("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["bytes"] as? Int, body.count)
        XCTAssertEqual((response.json["sum"] as? NSNumber)?.uint32Value, Self.sum(body))
        try connection.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().status, 200, "the connection goes on after a streamed body")
    }

    func testAChunkedStreamedBodyArrivesWholeInOrder() throws {
        let body = Self.bytes(1_000_003)
        var wire = Array("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var start = 0
        while start < body.count {
            let end = min(body.count, start + 7_919)
            wire += Array("\(String(end - start, radix: 16))\r\n".utf8) + body[start..<end] + Array("\r\n".utf8)
            start = end
        }
        wire += Array("0\r\n\r\nGET /echo HTTP/1.1\r\nHost: t\r\n\r\n".utf8)  // a pipelined request behind it
        let connection = try client()
        try connection.send(wire)
        let response = try connection.readResponse()
        XCTAssertEqual(response.json["bytes"] as? Int, body.count)
        XCTAssertEqual((response.json["sum"] as? NSNumber)?.uint32Value, Self.sum(body))
        XCTAssertEqual(try connection.readResponse().json["target"] as? String, "/echo")
    }

    func testABodyOverTheStreamedLimitIsRefusedBeforeItIsRead() throws {
        let connection = try client()
        try connection.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: \(TestServer.uploadLimit + 1)\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().status, 413)
        let chunked = try client()
        let piece = [UInt8](repeating: 65, count: 1 << 20)
        try chunked.send("POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        do {
            for _ in 0...(TestServer.uploadLimit >> 20) {
                try chunked.send(Array("100000\r\n".utf8) + piece + Array("\r\n".utf8))
            }
        } catch {}  // the server may close before the last chunk is sent
        let response = try chunked.readResponse()
        XCTAssertEqual(response.status, 413, "the handler heard of the limit and answered it")
        XCTAssertEqual(server.streams.failures, [.protocolError(.payloadTooLarge)])
    }

    func testAHandlerThatAnswersWithoutReadingClosesTheConnectionAfterItsAnswer() throws {
        let connection = try client()
        try connection.send("POST /upload?reject=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\n")
        try connection.send(Self.bytes(100_000))
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 415)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(connection.readsEndOfStream())
    }

    func testAClientFasterThanItsHandlerIsHeldBackByTCP() throws {
        let body = Self.bytes(24 << 20)
        let connection = try client()
        try connection.send("POST /upload?gated=1 HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n")
        // Non-blocking sends until the kernel refuses: what the server has not read stays in
        // the socket buffers, whose size is all a stalled client can push.
        let flags = fcntl(connection.fd, F_GETFL)
        _ = fcntl(connection.fd, F_SETFL, flags | O_NONBLOCK)
        var sent = 0
        var lastProgress = Date()
        while sent < body.count, Date().timeIntervalSince(lastProgress) < 0.3 {
            let count = body.withUnsafeBytes { Glibc.send(connection.fd, $0.baseAddress! + sent, min(1 << 16, body.count - sent), Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                sent += count
                lastProgress = Date()
            } else {
                usleep(10_000)
            }
        }
        XCTAssertLessThan(sent, 16 << 20, "the server stopped reading while its handler took nothing")
        server.gate.open()
        _ = fcntl(connection.fd, F_SETFL, flags)
        try connection.send(Array(body[sent...]))
        connection.setTimeout(20)
        let response = try connection.readResponse()
        XCTAssertEqual(response.json["bytes"] as? Int, body.count)
        XCTAssertEqual((response.json["sum"] as? NSNumber)?.uint32Value, Self.sum(body))
    }

    func testABodyWhoseLastByteFillsTheHandlersShareStillEnds() throws {
        // 512 KiB: the last piece read reaches the high water mark, so reading pauses just
        // before the parser reports the end; once the handler takes the pieces, the end must come.
        let body = Self.bytes(512 * 1024)
        let connection = try client()
        try connection.send(Array("POST /upload?gated=1 HTTP/1.1\r\nHost: t\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
        usleep(300_000)
        server.gate.open()
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 200, "not a 408 for a body that had arrived whole")
        XCTAssertEqual(response.json["bytes"] as? Int, body.count)
    }

    func testAStalledBodyTimesOutAndTheHandlerAnswers408() throws {
        let connection = try client()
        try connection.send(Array("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".utf8) + Self.bytes(400))
        let response = try connection.readResponse()  // after the 1 s request timeout
        XCTAssertEqual(response.status, 408)
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertEqual(server.streams.failures, [.timedOut])
    }

    func testAClientThatLeavesMidBodyFailsTheHandlersRead() throws {
        do {
            let connection = try client()
            try connection.send(Array("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n".utf8) + Self.bytes(5000))
            usleep(100_000)
        }  // closed here
        let deadline = Date().addingTimeInterval(5)
        while server.streams.failures.isEmpty, Date() < deadline { usleep(20_000) }
        XCTAssertEqual(server.streams.failures, [.disconnected])
        let next = try client()
        try next.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(try next.readResponse().status, 200)
    }

    // MARK: Responses

    func testAStreamedResponseIsChunkedWholeAndKeepsTheConnection() throws {
        let connection = try client()
        try connection.send("GET /pieces?count=300&size=3333 HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try connection.readResponse()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Transfer-Encoding"), "chunked")
        XCTAssertNil(response.header("Content-Length"))
        XCTAssertEqual(response.body.count, 300 * 3333)
        XCTAssertEqual(response.body[3333 * 299], UInt8(299 % 251))
        try connection.send("HEAD /pieces?count=3 HTTP/1.1\r\nHost: t\r\n\r\n")
        let head = try connection.readResponse(bodyless: true)
        XCTAssertEqual(head.header("Transfer-Encoding"), "chunked")
        try connection.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertEqual(try connection.readResponse().status, 200, "HEAD ran no producer and the connection goes on")
    }

    func testAStreamedResponseToHTTP10EndsByClosing() throws {
        let connection = try client()
        try connection.send("GET /pieces?count=5&size=100 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let response = try connection.readResponse()
        XCTAssertNil(response.header("Transfer-Encoding"))
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertEqual(response.body.count, 500)
    }

    func testASlowReaderHoldsTheProducerBack() throws {
        let connection = try client(timeout: 20, slowReader: true)
        try connection.send("GET /pieces?count=2000&size=32768 HTTP/1.1\r\nHost: t\r\n\r\n")  // 64 MiB
        usleep(500_000)
        XCTAssertLessThan(server.streams.produced.value, 200, "not read, the response is not produced ahead")
        let response = try connection.readResponse()
        XCTAssertEqual(response.body.count, 2000 * 32768)
        XCTAssertEqual(server.streams.produced.value, 2000)
    }

    func testAProducerThatFailsCutsTheResponseShort() throws {
        let connection = try client()
        try connection.send("GET /pieces?count=10&size=1000&fail=4 HTTP/1.1\r\nHost: t\r\n\r\n")
        XCTAssertThrowsError(try connection.readResponse(), "a chunked body without its last chunk")
        XCTAssertEqual(server.streams.produced.value, 4)
    }
}
