import Contacts
import Foundation
import TestSupport
import XCTest

/// Everything outside the four operations: unknown paths, other methods, the service endpoints,
/// protocol errors in the API's shape, and the OpenAPI document against what the server says.
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
        for path in ["/healthz", "/readyz", "/openapi.yaml"] {
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

    /// Sends a request that must produce `status` and records (path template, method, status).
    private func observe(_ method: String, _ target: String, _ status: Int, template: String = "/crm/{listing_id}",
                         key: APIKey?? = nil, body: Body = .none, into observed: inout Set<String>) throws {
        let response = try call(method, target, key: key ?? keyA, body: body)
        XCTAssertEqual(response.status, status, "\(method) \(target): \(response.bodyText)")
        observed.insert("\(template) \(method.lowercased()) \(response.status)")
    }

    func testEveryPathMethodAndStatusTheServerAnswersIsInOpenAPI() throws {
        var observed: Set<String> = []
        let created = contact(try post(1, [("email", "doc@example.com"), ("phone", "15550001000")]))["contact_id"] as? Int ?? 0
        observed.insert("/crm/{listing_id} post 201")
        let big = Body.raw(contentType: "application/x-www-form-urlencoded", bytes: Array(repeating: UInt8(ascii: "a"), count: 70_000))
        for method in ["POST", "PUT", "DELETE"] {
            try observe(method, "/crm/1", 400, body: .form([("email", "bad")]), into: &observed)
            try observe(method, "/crm/1", 403, key: .some(nil), body: .form([("email", "a@example.com")]), into: &observed)
            try observe(method, "/crm/1", 415, body: .raw(contentType: "text/csv", bytes: Array("x".utf8)), into: &observed)
            try observe(method, "/crm/1", 413, body: big, into: &observed)
        }
        try observe("POST", "/crm/1", 409, body: .form([("email", "doc@example.com")]), into: &observed)
        try observe("PUT", "/crm/1", 200, body: .form([("id", "\(created)"), ("first_name", "Doc")]), into: &observed)
        try observe("PUT", "/crm/1", 201, body: .form([("email", "doc2@example.com")]), into: &observed)
        try observe("PUT", "/crm/1", 404, body: .form([("id", "987654")]), into: &observed)
        try observe("PUT", "/crm/1", 409, body: .form([("id", "\(created)"), ("email", "doc2@example.com")]), into: &observed)
        for method in ["GET", "HEAD"] {
            try observe(method, "/crm/1", 200, into: &observed)
            try observe(method, "/crm/1?email=none%40example.com", 404, into: &observed)
            try observe(method, "/crm/1?id=x", 400, into: &observed)
            try observe(method, "/crm/1", 403, key: .some(nil), into: &observed)
        }
        try observe("DELETE", "/crm/1", 202, body: .form([("id", "\(created)")]), into: &observed)
        try observe("DELETE", "/crm/1", 404, body: .form([("id", "\(created)")]), into: &observed)
        for (path, method) in [("/healthz", "GET"), ("/healthz", "HEAD"), ("/readyz", "GET"), ("/readyz", "HEAD"),
                               ("/openapi.yaml", "GET"), ("/openapi.yaml", "HEAD")] {
            try observe(method, path, 200, template: path, key: .some(nil), into: &observed)
        }

        let documented = try OpenAPIOutline.operations(inFile: Self.repositoryFile("openapi.yaml"))
        let missing = observed.subtracting(documented)
        XCTAssertTrue(missing.isEmpty, "answered but not in openapi.yaml: \(missing.sorted())")
        XCTAssertEqual(observed.count, 34, "the whole matrix above was exercised")
        let components = try String(contentsOfFile: Self.repositoryFile("openapi.yaml"), encoding: .utf8)
        XCTAssertTrue(components.contains("MethodNotAllowed:"), "405 is described")
        for code in ["invalid_parameter", "missing_parameter", "forbidden", "not_found", "blacklisted", "duplicate",
                     "method_not_allowed", "unsupported_media_type", "payload_too_large", "headers_too_large",
                     "request_timeout", "rate_limited", "unavailable", "internal"] {
            XCTAssertTrue(components.contains(code), "error code \(code) is described")
        }
    }
}

/// Reads `paths → method → responses → status` from openapi.yaml by its indentation (two
/// spaces a level), which is how the document is kept.
enum OpenAPIOutline {
    static func operations(inFile path: String) throws -> Set<String> {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var operations: Set<String> = []
        var inPaths = false, currentPath = "", currentMethod = "", inResponses = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let indent = line.prefix { $0 == " " }.count
            let content = line.trimmingCharacters(in: .whitespaces)
            guard !content.hasPrefix("#") else { continue }
            if indent == 0 { inPaths = content == "paths:"; continue }
            guard inPaths else { continue }
            switch indent {
            case 2: currentPath = String(content.dropLast()); currentMethod = ""; inResponses = false
            case 4: currentMethod = String(content.dropLast()); inResponses = false
            case 6: inResponses = content == "responses:"
            case 8 where inResponses:
                let status = content.trimmingCharacters(in: CharacterSet(charactersIn: "'\":"))
                operations.insert("\(currentPath) \(currentMethod) \(status)")
            default: break
            }
        }
        return operations
    }
}
