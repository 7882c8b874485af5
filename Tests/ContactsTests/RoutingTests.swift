import Contacts
import Foundation
import TestSupport
import XCTest

/// Everything outside the four operations: unknown paths, other methods, the service endpoints,
/// protocol errors in the API's shape (openapi.yaml against the router: OpenAPITests).
final class RoutingTests: ContactsTestCase {
    func testUnknownPathsAre404InJSON() throws {
        for path in ["/", "/crm", "/crm/", "/crm/1/extra", "/contacts/1", "/CRM/1"] {
            let response = try call("GET", path, key: keyA)
            XCTAssertEqual(response.status, path == "/crm/" ? 400 : 404, path)
            XCTAssertEqual(response.header("Content-Type"), "application/json; charset=utf-8")
            XCTAssertEqual(response.json["status"] as? String, "error")
        }
    }

    func testOtherMethodsAre405WithAllow() throws {
        for method in ["PATCH", "OPTIONS", "TRACE"] {
            let response = try call(method, "/crm/1", key: keyA)
            XCTAssertEqual(response.status, 405, method)
            XCTAssertEqual(response.json["code"] as? String, "method_not_allowed")
            XCTAssertEqual(response.header("Allow"), "GET, HEAD, POST, PUT, DELETE")
        }
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
            let response = try call("POST", path, key: nil)
            XCTAssertEqual(response.status, 405, path)
            XCTAssertEqual(response.header("Allow"), "GET, HEAD")
        }
    }

    func testHealthReadinessAndTheOpenAPIDocumentNeedNoKey() throws {
        let health = try call("GET", "/healthz", key: nil)
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertEqual(try call("GET", "/readyz", key: nil).status, 200)
        let document = try call("GET", "/openapi.yaml", key: nil)
        XCTAssertEqual(document.status, 200)
        XCTAssertEqual(document.header("Content-Type"), "application/yaml; charset=utf-8")
        XCTAssertTrue(document.bodyText.hasPrefix("openapi: 3.1"), String(document.bodyText.prefix(40)))
    }

    func testProtocolErrorsUseTheAPIShape() throws {
        let client = try RawHTTPClient(port: server.port)
        try client.send("POST /crm/1 HTTP/1.1\r\nContent-Length: 70000\r\n\r\n")
        let tooLarge = try client.readResponse()
        XCTAssertEqual(tooLarge.status, 413)
        XCTAssertEqual(tooLarge.json["code"] as? String, "payload_too_large")
        XCTAssertEqual(tooLarge.json["status"] as? String, "error")
        XCTAssertNotNil(tooLarge.json["data"] as? [String: Any])

        let longHead = try RawHTTPClient(port: server.port)
        try longHead.send("GET /crm/1 HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 17_000))\r\n\r\n")
        let headers = try longHead.readResponse()
        XCTAssertEqual(headers.status, 431)
        XCTAssertEqual(headers.json["code"] as? String, "headers_too_large")
    }
}
