@testable import HTTP
import XCTest

/// The parser alone, fed bytes directly: every framing rule and every refusal.
final class HTTPRequestParserTests: XCTestCase {
    /// Parses `text` fed in one piece; returns the requests completed and the failure, if any.
    private func parse(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> (heads: [HTTPRequestHead], bodies: [String], failure: HTTPProtocolError?) {
        var parser = HTTPRequestParser(limits: limits)
        let bytes = Array(text.utf8)
        var index = 0
        var heads: [HTTPRequestHead] = [], bodies: [String] = []
        while true {
            switch parser.parse(bytes, from: &index) {
            case .needMoreData: return (heads, bodies, nil)
            case .head(let head): heads.append(head)
            case .body(let body): bodies.append(String(decoding: body, as: UTF8.self))
            case .bodyPart(let part): bodies.append("part " + String(decoding: part, as: UTF8.self))
            case .failure(let error): return (heads, bodies, error)
            }
        }
    }

    func testARequestWithHeadersAndAContentLengthBody() {
        let result = parse("POST /crm/1?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX-Two: 1\r\nx-two: 2\r\n\r\nhello")
        XCTAssertNil(result.failure)
        XCTAssertEqual(result.bodies, ["hello"])
        let head = result.heads[0]
        XCTAssertEqual(head.method, "POST")
        XCTAssertEqual(head.path, "/crm/1")
        XCTAssertEqual(head.query, "x=1")
        XCTAssertEqual(head.version, .http1_1)
        XCTAssertEqual(head.headers["host"], "a")
        XCTAssertEqual(head.headers.values(for: "X-TWO"), ["1", "2"], "repeated fields are kept, names case-insensitive")
    }

    func testChunkedBodiesAreDechunkedAndTrailersDropped() {
        let result = parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        XCTAssertNil(result.failure)
        XCTAssertEqual(result.bodies, ["hello world"])
        XCTAssertFalse(result.heads[0].headers.contains("X-Trailer"))
    }

    func testBareLFEndsLinesAndLeadingEmptyLinesAreSkipped() {
        let result = parse("\r\n\nGET / HTTP/1.1\nHost: a\n\n")
        XCTAssertNil(result.failure)
        XCTAssertEqual(result.heads.first?.headers["Host"], "a")
        XCTAssertEqual(result.bodies, [""])
    }

    func testPipelinedRequestsComeOutOneAfterAnother() {
        let result = parse("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nPOST /3 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx")
        XCTAssertEqual(result.heads.map(\.target), ["/1", "/2", "/3"])
        XCTAssertEqual(result.bodies, ["", "", "x"])
    }

    func testKeepAliveAndExpectContinue() {
        XCTAssertTrue(parse("GET / HTTP/1.1\r\n\r\n").heads[0].keepAlive)
        XCTAssertFalse(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").heads[0].keepAlive)
        XCTAssertFalse(parse("GET / HTTP/1.0\r\n\r\n").heads[0].keepAlive)
        XCTAssertTrue(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").heads[0].keepAlive)
        XCTAssertTrue(parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").heads[0].expectsContinue)
    }

    func testARequestLineHasExactlyTwoSpaces() {
        let cases = [
            ("GET  / HTTP/1.1", "Malformed request line."), (" GET / HTTP/1.1", "Malformed request line."),
            ("GET / HTTP/1.1 ", "Malformed request line."), ("GET /", "Malformed request line."), ("GET", "Malformed request line."),
            (" / HTTP/1.1", "Malformed method."), ("GET  HTTP/1.1", "Malformed request target."), ("GET / ", "Malformed HTTP version."),
        ]
        for (line, message) in cases {
            XCTAssertEqual(parse(line + "\r\n\r\n").failure, .malformed(message), line)
        }
        XCTAssertEqual(parse("GET / HTTP/1.1\r\n\r\n").heads.first?.target, "/")
    }

    func testEachMalformedOrOversizedRequestGetsItsStatus() {
        let cases: [(String, String, Int)] = [
            ("both framings", "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("differing lengths", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
            ("length list", "POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", 400),
            ("signed length", "POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\n", 400),
            ("obs-fold", "GET / HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n", 400),
            ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            ("bad name character", "GET / HTTP/1.1\r\nX(A): 1\r\n\r\n", 400),
            ("NUL in value", "GET / HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n", 400),
            ("bare CR", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 400),
            ("no colon", "GET / HTTP/1.1\r\nJustText\r\n\r\n", 400),
            ("two spaces", "GET  / HTTP/1.1\r\n\r\n", 400),
            ("no version", "GET /\r\n\r\n", 400),
            ("lowercase version", "GET / http/1.1\r\n\r\n", 400),
            ("non-token method", "G@T / HTTP/1.1\r\n\r\n", 400),
            ("space in target", "GET /a b HTTP/1.1\r\n\r\n", 400),
            ("non-ASCII target", "GET /é HTTP/1.1\r\n\r\n", 400),
            ("oversized chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 400),
            ("non-hex chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
            ("chunk longer than size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400),
            ("chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            ("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505),
            ("huge length", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
            ("over the body limit", "POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", 413),
            ("chunked over the limit", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413),
            ("huge header", "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 16 * 1024) + "\r\n\r\n", 431),
            ("huge request line, unterminated", "GET /" + String(repeating: "a", count: 16 * 1024 + 1), 431),
        ]
        for (name, request, status) in cases {
            XCTAssertEqual(parse(request).failure?.status.code, status, name)
        }
    }

    func testAHeadJustUnderTheLimitIsAccepted() {
        let filler = String(repeating: "a", count: 16 * 1024 - 40)
        let request = "GET / HTTP/1.1\r\nX: \(filler)\r\n\r\n"
        XCTAssertLessThanOrEqual(request.utf8.count, 16 * 1024)
        XCTAssertNil(parse(request).failure)
    }

    func testBytesArrivingOneAtATimeGiveTheSameRequest() {
        let text = "POST /one HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        var parser = HTTPRequestParser()
        var buffer: [UInt8] = []
        var index = 0
        var body: String?
        for byte in text.utf8 {
            buffer.append(byte)
            loop: while true {
                switch parser.parse(buffer, from: &index) {
                case .needMoreData: break loop
                case .head: continue
                case .body(let bytes): body = String(decoding: bytes, as: UTF8.self)
                case .bodyPart: return XCTFail("not a streamed body")
                case .failure(let error): return XCTFail("\(error)")
                }
            }
        }
        XCTAssertEqual(body, "abc")
    }

    func testASliceIsParsedUpToItsEndAndNoFurther() {
        // The server parses out of its shared read buffer: the bytes past what was read belong
        // to an earlier read and must never complete a head or a body.
        let stale = Array("\r\n\r\nGET /stale HTTP/1.1\r\n\r\n".utf8)
        for text in ["GET /partial HTTP/1.1\r\nHost: a", "POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345",
                     "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc"] {
            let bytes = Array(text.utf8)
            let buffer = bytes + stale
            var parser = HTTPRequestParser()
            var index = 0
            var events: [String] = []
            loop: while true {
                switch parser.parse(buffer[..<bytes.count], from: &index) {
                case .needMoreData: break loop
                case .head(let head): events.append("head \(head.target)")
                case .body(let body): events.append("body \(body.count)")
                case .bodyPart(let part): events.append("part \(part.count)")
                case .failure(let error): events.append("failure \(error.status)"); break loop
                }
            }
            XCTAssertEqual(events, text.hasPrefix("GET") ? [] : ["head \(text.split(separator: " ")[1])"], text)
            XCTAssertLessThanOrEqual(index, bytes.count, text)
        }
    }

    // MARK: Streamed bodies

    /// Feeds `text` in pieces of `step` bytes to a parser that streams `/upload` bodies (up to
    /// `limit`); returns the events, parts concatenated into one "body …" entry.
    private func streamed(_ text: String, step: Int, limit: Int = 100) -> [String] {
        var parser = HTTPRequestParser(limits: .init(streamedBodyLimit: { $0.path == "/upload" ? limit : nil }))
        let bytes = Array(text.utf8)
        var buffer: [UInt8] = []
        var index = 0
        var events: [String] = []
        var body = ""
        for start in stride(from: 0, to: bytes.count, by: step) {
            buffer += bytes[start..<min(bytes.count, start + step)]
            loop: while true {
                switch parser.parse(buffer, from: &index) {
                case .needMoreData: break loop
                case .head(let head): events.append("head \(head.path) streams \(parser.streamsBody)")
                case .bodyPart(let part):
                    XCTAssertFalse(part.isEmpty)
                    body += String(decoding: part, as: UTF8.self)
                case .body(let whole):
                    events.append(whole.isEmpty ? "end \(body)" : "body \(String(decoding: whole, as: UTF8.self))")
                    body = ""
                case .failure(let error): events.append("failure \(error.status)"); break loop
                }
            }
        }
        return events
    }

    func testAStreamedBodyComesInPartsThenItsEndWhateverTheCuts() {
        let text = "POST /upload HTTP/1.1\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz"
            + "POST /other HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
        for step in [1, 2, 7, 500] {
            XCTAssertEqual(streamed(text, step: step), ["head /upload streams true", "end abcdefghijklmnopqrstuvwxyz",
                                                        "head /other streams false", "body xyz"], "step \(step)")
        }
        let chunked = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        for step in [1, 3, 500] {
            XCTAssertEqual(streamed(chunked, step: step), ["head /upload streams true", "end abcde"], "step \(step)")
        }
    }

    func testAStreamedBodyHasItsOwnLimitBeforeAndWhileItArrives() {
        XCTAssertEqual(streamed("POST /upload HTTP/1.1\r\nContent-Length: 11\r\n\r\n", step: 100, limit: 10), ["failure 413"])
        XCTAssertEqual(streamed("POST /upload HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", step: 100, limit: 1000).first,
                       "head /upload streams true", "over the buffered limit, within the streamed one")
        let chunked = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n"
        XCTAssertEqual(streamed(chunked, step: 100, limit: 10), ["head /upload streams true", "failure 413"])
    }
}
