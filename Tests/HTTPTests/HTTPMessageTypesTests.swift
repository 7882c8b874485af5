@testable import HTTP
import XCTest

/// ``HTTPMethod`` and ``HTTPStatus``: what the parser names a method, how a status reads on the
/// status line, and that literals still compare with both.
final class HTTPMessageTypesTests: XCTestCase {
    private func method(of requestLine: String) -> HTTPMethod? {
        var parser = HTTPRequestParser()
        var index = 0
        guard case .head(let head) = parser.parse(Array("\(requestLine)\r\n\r\n".utf8), from: &index) else { return nil }
        return head.method
    }

    func testTheParserNamesEveryKnownMethodByItsConstant() {
        let known: [HTTPMethod] = [.get, .head, .post, .put, .delete, .patch, .options, .connect, .trace]
        for constant in known {
            XCTAssertEqual(HTTPMethod.known(Array(constant.rawValue.utf8)[...]), constant, constant.rawValue)
            XCTAssertEqual(method(of: "\(constant.rawValue) / HTTP/1.1"), constant, constant.rawValue)
        }
    }

    func testAnyOtherTokenIsAMethodAsSentCaseSensitively() {
        XCTAssertNil(HTTPMethod.known(Array("get".utf8)[...]), "methods are case-sensitive (RFC 9110 §9.1)")
        XCTAssertNil(HTTPMethod.known(Array("GETS".utf8)[...]))
        XCTAssertNil(HTTPMethod.known(Array("\0GET".utf8)[...]))
        XCTAssertNil(HTTPMethod.known(Array("OPTIONSX".utf8)[...]))
        XCTAssertNil(HTTPMethod.known([]))
        XCTAssertEqual(method(of: "get / HTTP/1.1")?.rawValue, "get")
        XCTAssertNotEqual(method(of: "get / HTTP/1.1"), .get)
        XCTAssertEqual(method(of: "PROPFIND / HTTP/1.1"), HTTPMethod(rawValue: "PROPFIND"))
    }

    func testMethodsCompareWithStringLiteralsAndPrintAsTheirToken() {
        let post = HTTPMethod.post
        XCTAssertTrue(post == "POST")
        XCTAssertFalse(post == "GET")
        XCTAssertEqual("\(post)", "POST")
        switch post {
        case "GET": XCTFail("POST matched GET")
        case "POST": break
        default: XCTFail("POST matched nothing")
        }
    }

    func testStatusesCompareWithIntegerLiteralsAndOrderByCode() {
        let status: HTTPStatus = .notFound
        XCTAssertTrue(status == 404)
        XCTAssertEqual(status.code, 404)
        XCTAssertEqual("\(status)", "404")
        XCTAssertTrue(HTTPStatus.continue < 200)
        XCTAssertTrue(HTTPStatus.ok >= 200)
        XCTAssertEqual(HTTPStatus(code: 503), .serviceUnavailable)
    }

    func testTheStatusLineCarriesTheCodeAndItsReasonPhrase() {
        let cases: [(HTTPStatus, String)] = [
            (.ok, "HTTP/1.1 200 OK\r\n"), (.requestHeaderFieldsTooLarge, "HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            (.contentTooLarge, "HTTP/1.1 413 Content Too Large\r\n"), (418, "HTTP/1.1 418 Status 418\r\n"),
        ]
        for (status, line) in cases {
            let head = HTTPResponseEncoder.encodeHead(HTTPResponse(status: status), date: "D", connection: nil)
            XCTAssertTrue(String(decoding: head, as: UTF8.self).hasPrefix(line), line)
        }
    }
}
