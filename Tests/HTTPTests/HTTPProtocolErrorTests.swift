import Foundation
import HTTP
import Synchronization
import TestSupport
import XCTest

/// The server's own errors are typed values: each kind has its status, the application's
/// renderer gets the kind, and without one the server answers in plain text (no JSON, no
/// application's error codes).
final class HTTPProtocolErrorTests: XCTestCase {
    private var server: HTTPServer?

    override func tearDown() async throws {
        await server?.shutdown(gracePeriod: .seconds(2))
    }

    private func start(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> Int {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, eventLoops: 1)
        configure(&configuration)
        let server = HTTPServer(configuration: configuration) { _ in .json(status: 200, #"{"ok":true}"#) }
        try server.start()
        self.server = server
        return server.port
    }

    func testEachKindHasItsStatusAndAMessage() {
        let cases: [(HTTPProtocolError, HTTPStatus)] = [
            (.malformed("Malformed method."), 400), (.headersTooLarge, 431), (.payloadTooLarge, 413),
            (.requestTimeout, 408), (.versionNotSupported, 505), (.transferCodingNotImplemented, 501),
            (.connectionLimit, 503), (.handlerTimeout, 503), (.overloaded, 503), (.internalError, 500),
        ]
        for (error, status) in cases {
            XCTAssertEqual(error.status, status, "\(error.kind)")
            XCTAssertFalse(error.message.isEmpty, "\(error.kind)")
        }
        XCTAssertEqual(HTTPProtocolError.malformed("Malformed method.").message, "Malformed method.")
        XCTAssertEqual(HTTPProtocolError.malformed("a").kind, .malformed("a"))
        XCTAssertNotEqual(HTTPProtocolError.malformed("a"), .malformed("b"))
    }

    func testWithoutARendererTheServerAnswersItsErrorsInPlainText() throws {
        let port = try start()
        let client = try RawHTTPClient(port: port)
        try client.send("GET / HTTP/2.0\r\n\r\n")
        let response = try client.readResponse()
        XCTAssertEqual(response.status, 505)
        XCTAssertEqual(response.header("Content-Type"), "text/plain; charset=utf-8")
        XCTAssertEqual(response.bodyText, "HTTP Version Not Supported\n")
        XCTAssertNil(response.header("Retry-After"))
        XCTAssertEqual(response.header("Connection"), "close")
        XCTAssertTrue(client.readsEndOfStream())
    }

    func testAPlainText503SaysWhenToRetry() throws {
        let port = try start { $0.maxConnections = 1 }
        let held = try RawHTTPClient(port: port)
        try held.send("GET / HTTP/1.1\r\n\r\n")
        XCTAssertEqual(try held.readResponse().status, 200)
        let refused = try RawHTTPClient(port: port).readResponse()
        XCTAssertEqual(refused.status, 503)
        XCTAssertEqual(refused.bodyText, "Service Unavailable\n")
        XCTAssertEqual(refused.header("Retry-After"), "1")
    }

    func testTheApplicationsRendererGetsTheKindAndChoosesTheBody() throws {
        let reported = Mutex<[HTTPProtocolError.Kind]>([])
        let port = try start { configuration in
            configuration.errorResponse = { error in
                reported.withLock { $0.append(error.kind) }
                return HTTPResponse(status: error.status, body: Array("rendered by the application".utf8))
            }
        }
        for request in ["GET /\r\n\r\n", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"] {
            let client = try RawHTTPClient(port: port)
            try client.send(request)
            XCTAssertEqual(try client.readResponse().bodyText, "rendered by the application")
        }
        XCTAssertEqual(reported.withLock { $0 }, [.malformed("Malformed request line."), .transferCodingNotImplemented])
    }
}
