import TestSupport
import XCTest

extension OpenAPIResponseTests {
    /// The imports' and the export's answers (API.md §12).
    func provokeImportAnswers() throws {
        let retry = [("Idempotency-Key", "doc-import")]
        let accepted = try upload(1, "email\ndoc-import@example.com\n", headers: retry)
        XCTAssertEqual(accepted.status, 202)
        XCTAssertEqual(try upload(1, "email\ndoc-import@example.com\n", headers: retry).status, 202)
        XCTAssertEqual(try upload(1, "email\nother@example.com\n", headers: retry).status, 422)
        XCTAssertEqual(try upload(1, "").status, 400)
        XCTAssertEqual(try upload(1, "email\na@example.com\n", key: keyB).status, 403)
        XCTAssertEqual(try upload(1, "{}", contentType: "application/json").status, 415)
        XCTAssertEqual(try upload(1, "email\n" + String(repeating: "r@example.com\n", count: 60_001)).status, 413)
        let slow = try RawHTTPClient(port: server.port)
        try slow.send("POST /crm/1/imports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(keyA.text)\r\nContent-Type: text/csv\r\n"
                      + "Idempotency-Key: doc-slow\r\nContent-Length: 23\r\n\r\nemail\n")
        try waitUntil("the first upload is being staged") { try self.textRows("SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory'") != ["0"] }
        XCTAssertEqual(try upload(1, "email\nslow@example.com\n", headers: [("Idempotency-Key", "doc-slow")]).status, 409)
        try slow.send("slow@example.com\n")
        XCTAssertEqual(try slow.readResponse().status, 202)
        let id = importData(accepted)["import_id"] as? Int ?? 0
        _ = try finishedImport(1, id)
        for method in ["GET", "HEAD"] {
            for suffix in ["", "/errors"] {
                let path = "/crm/1/imports/\(id)" + suffix
                XCTAssertEqual(try call(method, path, key: keyA).status, 200)
                XCTAssertEqual(try call(method, path, key: keyB).status, 403)
                XCTAssertEqual(try call(method, path, key: keyA, body: .raw(contentType: "text/csv", bytes: [65])).status, 415)
                XCTAssertEqual(try call(method, "/crm/1/imports/x" + suffix, key: keyA).status, 400)
                XCTAssertEqual(try call(method, "/crm/1/imports/99999" + suffix, key: keyA).status, 404)
            }
            XCTAssertEqual(try call(method, "/crm/1/export", key: keyA).status, 200)
            XCTAssertEqual(try call(method, "/crm/1/export?format=ndjson&name=doc", key: keyA).status, 200)
            XCTAssertEqual(try call(method, "/crm/1/export?format=pdf", key: keyA).status, 400)
            XCTAssertEqual(try call(method, "/crm/1/export", key: keyB).status, 403)
            XCTAssertEqual(try call(method, "/crm/1/export", key: keyA, body: .raw(contentType: "text/csv", bytes: [65])).status, 415)
        }
    }
}
