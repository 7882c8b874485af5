import Foundation
import Glibc
import TestSupport
import XCTest

/// Uploads (API.md §12): what is staged, what is refused whole, what each row comes to, and
/// what a retry or a client that breaks off leaves behind.
final class ImportTests: ContactsTestCase {
    override var importWorkers: Int { 1 }

    func testAnImportAppliesItsRowsReportsEachBadOneAndRecordsTheirEvents() throws {
        let csv = "\u{FEFF}email,phone,first_name,notes\r\n"
            + "one@example.com,,One,ignored\r\n"
            + "two@example.com,+1 555 000 0002,\"Two, \"\"the second\"\"\",x\r\n"
            + "not-an-email,,,\r\n"
            + "too,many,fields,here,and more\r\n"
            + "\r\n"
            + "one@example.com,,One Again,\r\n"
            + "three@example.com,,\"unterminated"
        let response = try upload(1, csv)
        XCTAssertEqual(response.status, 202, response.bodyText)
        XCTAssertEqual(response.json["message"] as? String, "Import queued: 6 row(s) stored.")
        let accepted = importData(response)
        XCTAssertEqual(accepted["status"] as? String, "queued")
        XCTAssertEqual(accepted["mode"] as? String, "upsert")
        XCTAssertEqual(accepted["rows"] as? Int, 6)
        let id = accepted["import_id"] as? Int ?? 0
        let job = try finishedImport(1, id)
        XCTAssertEqual(job["status"] as? String, "completed")
        XCTAssertEqual(job["created"] as? Int, 2)
        XCTAssertEqual(job["updated"] as? Int, 1)
        XCTAssertEqual(job["rejected"] as? Int, 3)
        XCTAssertNotNil(job["finished_date"] as? String)
        let errors = try importErrors(1, id)
        XCTAssertEqual(errors.map { $0["row"] as? Int }, [3, 4, 6])
        XCTAssertEqual(errors[0]["code"] as? String, "invalid_parameter")
        XCTAssertEqual(errors[0]["parameter"] as? String, "email")
        XCTAssertEqual(errors[0]["message"] as? String, "email must be an address like name@example.com.")
        XCTAssertEqual(errors[1]["message"] as? String, "The record has 5 field(s); the header has 4.")
        XCTAssertTrue(errors[1]["parameter"] is NSNull, "an unreadable record names no parameter")
        XCTAssertEqual(errors[2]["code"] as? String, "invalid_parameter")
        XCTAssertTrue((errors[2]["message"] as? String ?? "").hasPrefix("The record cannot be read: "), "\(errors[2])")
        // (Ids follow no file order: the rows that share an email go one by one after the others.)
        XCTAssertEqual(try textRows("SELECT concat_ws('|', email, phone, first_name) FROM contacts WHERE listing_id = 1 ORDER BY email"),
                       ["one@example.com|One Again", "two@example.com|15550000002|Two, \"the second\""])
        XCTAssertEqual(try textRows("SELECT change_type || ' ' || actor_key_prefix FROM contact_changes WHERE listing_id = 1 ORDER BY txid, seq"),
                       ["contact.created \(keyA.prefix)", "contact.created \(keyA.prefix)", "contact.updated \(keyA.prefix)"])
        XCTAssertEqual(try textRows("SELECT count(*)::text FROM import_rows"), ["0"], "staged rows go once applied")
    }

    func testNDJSONLinesAreRowsAndALineThatIsNotOneObjectIsRejected() throws {
        let ndjson = """
            {"email": "n1@example.com", "first_name": "N", "extra": 5}
            not json
            [1, 2]
            {"email": "n2@example.com", "phone": null, "last_name": {"nested": true}}
            {"phone": 15550001234}

            {"email": "n1@example.com", "first_name": null}
            """
        let job = try imported(1, ndjson, mode: "create", contentType: "application/x-ndjson")
        XCTAssertEqual(job["rows"] as? Int, 6)
        XCTAssertEqual(job["created"] as? Int, 2)
        let errors = try importErrors(1, job["import_id"] as? Int ?? 0)
        XCTAssertEqual(errors.map { $0["row"] as? Int }, [2, 3, 4, 6])
        XCTAssertEqual(errors.map { $0["code"] as? String }, ["invalid_parameter", "invalid_parameter", "invalid_parameter", "duplicate"])
        XCTAssertEqual(errors[3]["message"] as? String, "A contact with this email or phone already exists.")
        XCTAssertEqual(try textRows("SELECT concat_ws('|', email, phone, first_name) FROM contacts WHERE listing_id = 1 ORDER BY email"),
                       ["n1@example.com|N", "15550001234"])
    }

    func testAFileThatCannotBeAnImportIsRefusedWholeAndLeavesNothing() throws {
        let cases: [(String, String, Int, String)] = [
            ("application/json", "{\"email\": \"a@example.com\"}", 415, "unsupported_media_type"),
            ("text/csv", "name,address\nx,y\n", 400, "invalid_parameter"),
            ("text/csv", "", 400, "invalid_parameter"),
            ("application/x-ndjson", "\n\n", 400, "invalid_parameter"),
            ("text/csv", "email,email\na@example.com,b@example.com\n", 400, "invalid_parameter"),
        ]
        for (contentType, body, status, code) in cases {
            let response = try upload(1, body, contentType: contentType)
            XCTAssertEqual(response.status, status, body)
            XCTAssertEqual(response.json["code"] as? String, code, body)
        }
        XCTAssertEqual(try upload(1, "email\na@example.com\n", mode: "merge").json["parameter"] as? String, "mode")
        let tooMany = "email\n" + (1...60_001).map { "r\($0)@example.com\n" }.joined()
        let refused = try upload(1, tooMany)
        XCTAssertEqual(refused.status, 413)
        XCTAssertEqual(refused.json["message"] as? String, "An import holds at most 60000 rows.")
        let client = try RawHTTPClient(port: server.port)
        try client.send("POST /crm/1/imports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(keyA.text)\r\nContent-Type: text/csv\r\n"
                        + "Content-Length: \(9 << 20)\r\n\r\n")
        XCTAssertEqual(try client.readResponse().status, 413, "over --max-import-bytes: refused before the body is read")
        XCTAssertEqual(try importFootprint(), "0 jobs, 0 staged")
        XCTAssertEqual(try contactCount(), 0)
    }

    func testKeysWithoutTheGrantOrTheScopeAreRefusedBeforeTheFileIsRead() throws {
        let reader = try createKey(scopes: [.read])
        let refused = try upload(1, "email\na@example.com\n", key: reader)
        XCTAssertEqual(refused.status, 403)
        XCTAssertEqual(refused.json["message"] as? String, "This API key lacks the write scope.")
        XCTAssertEqual(try upload(1, "email\na@example.com\n", key: keyB).status, 403)
        XCTAssertEqual(try upload(1, "email\na@example.com\n", key: keyB, contentType: "text/plain").status, 403, "403 before 415")
        let job = try imported(1, "email\na@example.com\n")
        let id = job["import_id"] as? Int ?? 0
        XCTAssertEqual(try call("GET", "/crm/1/imports/\(id)", key: reader).status, 200, "read suffices to look")
        XCTAssertEqual(try call("GET", "/crm/2/imports/\(id)", key: keyB).status, 404, "another listing's import is not there")
        XCTAssertEqual(try call("GET", "/crm/1/imports/\(id)", key: keyB).status, 403)
        XCTAssertEqual(try call("GET", "/crm/1/imports/\(id)/errors", key: keyB).status, 403)
        XCTAssertEqual(try call("GET", "/crm/1/imports/999999", key: keyA).status, 404)
        XCTAssertEqual(try call("GET", "/crm/1/imports/999999/errors", key: keyA).status, 404)
        XCTAssertEqual(try call("GET", "/crm/1/imports/x", key: keyA).json["parameter"] as? String, "import_id")
    }

    func testTheSameKeyAndFileReplaysAnotherFileIs422AndAConcurrentOneIs409() throws {
        let retry = [("Idempotency-Key", "import-1")]
        let first = try upload(1, "email\nk1@example.com\n", headers: retry)
        XCTAssertEqual(first.status, 202)
        let again = try upload(1, "email\nk1@example.com\n", headers: retry)
        XCTAssertEqual(again.status, 202)
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(again.bodyText, first.bodyText, "the stored answer again")
        XCTAssertEqual(try upload(1, "email\nk2@example.com\n", headers: retry).status, 422)
        XCTAssertEqual(try upload(1, "email\nk1@example.com\n", mode: "create", headers: retry).status, 422, "the mode is a parameter")
        XCTAssertEqual(try textRows("SELECT count(*)::text FROM import_jobs"), ["1"])
        // A second upload with a key whose first is still arriving.
        let slow = try RawHTTPClient(port: server.port)
        try slow.send("POST /crm/1/imports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(keyA.text)\r\nContent-Type: text/csv\r\n"
                      + "Idempotency-Key: import-2\r\nContent-Length: 36\r\n\r\nemail\n")
        try waitUntil("the first upload is being staged") { try self.textRows("SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory'") != ["0"] }
        let busy = try upload(1, "email\nk3@example.com\n", headers: [("Idempotency-Key", "import-2")])
        XCTAssertEqual(busy.status, 409)
        XCTAssertEqual(busy.json["code"] as? String, "idempotency_key_in_flight")
        try slow.send("k4@example.com\nk5@example.com\n")
        XCTAssertEqual(try slow.readResponse().status, 202)
    }

    func testAClientThatLeavesMidUploadLeavesNoJobAndNoRow() throws {
        do {
            let client = try RawHTTPClient(port: server.port)
            try client.send("POST /crm/1/imports HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(keyA.text)\r\nContent-Type: text/csv\r\n"
                            + "Content-Length: 100000\r\n\r\nemail\n" + (1...500).map { "gone\($0)@example.com\n" }.joined())
            try waitUntil("the upload is being staged") {
                try self.textRows("SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE 'COPY import_rows%'") == ["1"]
            }
        }
        try waitUntil("the staging is rolled back") {
            try self.textRows("SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE 'COPY import_rows%' AND state = 'active'") == ["0"]
        }
        XCTAssertEqual(try importFootprint(), "0 jobs, 0 staged")
        XCTAssertEqual(try call("GET", "/healthz", key: nil).status, 200)
    }

    func testFiftyThousandRowsWithFivePercentBadOnesImportTheRestAndReportEachExactly() throws {
        try sql("INSERT INTO blacklist_entries (kind, value, listing_id) VALUES ('domain', 'blocked.example', NULL)")
        var lines = ["email,phone,first_name"]
        var bad: [(row: Int, code: String, parameter: String?)] = []
        for row in 1...50_000 {
            switch row % 20 == 0 ? (row / 20) % 6 : -1 {
            case 0: lines.append("bad\(row),,"); bad.append((row, "invalid_parameter", "email"))
            case 1: lines.append(",12,"); bad.append((row, "invalid_parameter", "phone"))
            case 2: lines.append(",,Nobody"); bad.append((row, "missing_parameter", "email"))
            case 3: lines.append("u\(row)@blocked.example,,"); bad.append((row, "blacklisted", "email"))
            case 4: lines.append("u\(row - 1)@example.com,,Again"); bad.append((row, "duplicate", nil))
            case 5: lines.append("u\(row)@example.com,1,2,3"); bad.append((row, "invalid_parameter", nil))
            default: lines.append("u\(row)@example.com,+1 555 \(String(format: "%07d", row)),Row \(row)")
            }
        }
        let job = try imported(1, lines.joined(separator: "\n"), mode: "create")
        XCTAssertEqual(job["rows"] as? Int, 50_000)
        XCTAssertEqual(job["rejected"] as? Int, 2_500)
        XCTAssertEqual(job["created"] as? Int, 47_500)
        let errors = try importErrors(1, job["import_id"] as? Int ?? 0)
        XCTAssertEqual(errors.count, 2_500)
        for (line, expected) in zip(errors, bad) {
            XCTAssertEqual(line["row"] as? Int, expected.row)
            XCTAssertEqual(line["code"] as? String, expected.code, "row \(expected.row)")
            XCTAssertEqual(line["parameter"] as? String, expected.parameter, "row \(expected.row)")
        }
        XCTAssertEqual(try contactCount(1), 47_500)
        XCTAssertEqual(try textRows("SELECT count(*)::text FROM contact_changes WHERE listing_id = 1 AND change_type = 'contact.created'"), ["47500"])
    }
}
