import Foundation
import TestSupport
import XCTest

/// A statement that fails inside PostgreSQL: the API answers 500 with no detail, writes
/// nothing, and serves the next request.
final class InternalErrorTests: ContactsTestCase {
    static let internalBody = #"{"status":"error","code":"internal","message":"An unexpected error occurred.","data":{}}"#

    func testAFailingSQLFunctionIsA500WithoutDetailAndChangesNothing() throws {
        let id = contact(try post(1, [("email", "kept@example.com"), ("first_name", "Kept")]))["contact_id"] as? Int ?? -1
        // A trigger function made to raise, on every write to contacts; and the escaping of the
        // term every substring search makes.
        for statement in [
            """
            CREATE FUNCTION crm_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected failure for secret@example.com'; END $$
            """,
            "CREATE TRIGGER crm_test_fail BEFORE INSERT OR UPDATE OR DELETE ON contacts FOR EACH ROW EXECUTE FUNCTION crm_test_fail()",
            "ALTER FUNCTION crm_like_literal(text) RENAME TO crm_like_literal_saved",
            """
            CREATE FUNCTION crm_like_literal(text) RETURNS text LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'injected failure for secret@example.com'; END $$
            """,
        ] {
            try sql(statement)
        }
        let before = try contactsTable()
        let requests: [(String, Body)] = [
            ("POST", .form([("email", "new@example.com")])),
            ("PUT", .form([("id", "\(id)"), ("first_name", "Changed")])),
            ("PUT", .form([("email", "other@example.com")])),
            ("DELETE", .form([("id", "\(id)")])),
            ("GET", .none),
        ]
        for (method, body) in requests {
            let response = try call(method, method == "GET" ? "/crm/1?first_name=Kep" : "/crm/1", key: keyA, body: body)
            XCTAssertEqual(response.status, 500, "\(method): \(response.bodyText)")
            XCTAssertEqual(response.bodyText, Self.internalBody, "\(method): no detail of the failure")
            XCTAssertEqual(response.header("Content-Type"), "application/json; charset=utf-8")
        }
        XCTAssertEqual(try contactsTable(), before, "nothing written")
        XCTAssertTrue(accessLog.all.filter { $0.contains("status=500") }.count == requests.count, accessLog.all.joined(separator: "\n"))
        try sql("DROP TRIGGER crm_test_fail ON contacts")
        try sql("DROP FUNCTION crm_like_literal(text)")
        try sql("ALTER FUNCTION crm_like_literal_saved(text) RENAME TO crm_like_literal")
        XCTAssertEqual(try post(1, [("email", "after@example.com")]).status, 201, "the pool's connections recovered")
        XCTAssertEqual(try get(1, "id=\(id)").status, 200)
    }
}

/// The database stopped under a running service: every contacts request is a 503 with
/// Retry-After (and /readyz too), /healthz stays 200, and the service recovers by itself.
final class DatabaseOutageTests: ContactsTestCase {
    override var usesOwnCluster: Bool { true }

    static let unavailableBody = #"{"status":"error","code":"unavailable","message":"The database is unavailable; try again shortly.","data":{}}"#

    func testEveryMethodIs503WithRetryAfterWhileTheDatabaseIsStopped() throws {
        let id = contact(try post(1, [("email", "outage@example.com")]))["contact_id"] as? Int ?? -1
        XCTAssertEqual(try get(1).status, 200)
        try cluster!.stop()
        let requests: [(String, String, Body)] = [
            ("GET", "/crm/1", .none), ("HEAD", "/crm/1", .none), ("GET", "/crm/1?id=\(id)", .none),
            ("POST", "/crm/1", .form([("email", "during@example.com")])),
            ("PUT", "/crm/1", .form([("id", "\(id)"), ("first_name", "During")])),
            ("DELETE", "/crm/1", .form([("id", "\(id)")])),
        ]
        for (method, target, body) in requests {
            let response = try call(method, target, key: keyA, body: body)
            XCTAssertEqual(response.status, 503, "\(method) \(target): \(response.bodyText)")
            XCTAssertEqual(response.header("Retry-After"), "1", "\(method) \(target)")
            if method != "HEAD" { XCTAssertEqual(response.bodyText, Self.unavailableBody, "\(method) \(target)") }
        }
        for method in ["GET", "HEAD"] {
            let ready = try call(method, "/readyz", key: nil)
            XCTAssertEqual(ready.status, 503)
            XCTAssertEqual(ready.header("Retry-After"), "1")
            XCTAssertEqual(try call(method, "/healthz", key: nil).status, 200, "the process itself is fine")
        }
        try cluster!.start()
        try waitUntil("the API serves again after the restart", timeout: .seconds(10), observe: { try self.get(1).status }) { $0 == 200 }
        let stored = (data(try get(1, "id=\(id)"))["results"] as? [[String: Any]])?.first
        XCTAssertEqual(stored?["contact_email"] as? String, "outage@example.com")
        XCTAssertNil(stored?["contact_first_name"] as? String, "the PUT during the outage changed nothing")
        XCTAssertEqual(try contactCount(), 1, "nor did the POST create anything")
        XCTAssertEqual(try call("GET", "/readyz", key: nil).status, 200)
    }
}
