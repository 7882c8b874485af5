import Foundation
import XCTest

/// Each row of an import obeys exactly the single-contact API's rules (API.md §12): the same
/// rows applied one by one through `POST` (mode create) or `PUT` (mode upsert) to an identical
/// listing give, row for row, the same refusals (code, parameter, message) and the same final
/// table.
final class ImportRuleTests: ContactsTestCase {
    override var importWorkers: Int { 1 }

    private let columns = ["id", "email", "phone", "first_name", "last_name", "ip_address"]

    override func setUp() async throws {
        try await super.setUp()
        for listing: Int64 in [1, 2] {
            XCTAssertEqual(try post(listing, [("email", "a@example.com"), ("phone", "15550000001"), ("first_name", "Ann")]).status, 201)
            XCTAssertEqual(try post(listing, [("email", "b@example.com"), ("phone", "15550000002"), ("last_name", "Bee")]).status, 201)
        }
        try sql("""
            INSERT INTO blacklist_entries (kind, value, listing_id) VALUES
              ('email', 'bl@example.com', NULL), ('domain', 'blocked.example', NULL), ('phone', '15559990000', NULL),
              ('email', 'listed@example.com', 1), ('email', 'listed@example.com', 2)
            """)
    }

    /// The id of the contact with `email` in `listing`, as text.
    private func id(_ listing: Int64, _ email: String) throws -> String {
        try textRows("SELECT contact_id::text FROM contacts WHERE listing_id = $1 AND email = $2", [listing, email])[0]
    }

    /// Rows of cells in ``columns`` order; `{A}`/`{B}` stand for contact A's/B's id in the listing.
    private func check(mode: String, method: String, rows: [[String]], file: StaticString = #filePath, line: UInt = #line) throws {
        let ids = [1, 2].map { listing in (try? [("{A}", id(Int64(listing), "a@example.com")), ("{B}", id(Int64(listing), "b@example.com"))]) ?? [] }
        func resolve(_ cell: String, _ listing: Int) -> String {
            ids[listing - 1].reduce(cell) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
        }
        // The reference: one request per row, in order, to listing 2.
        var expected: [[String: String]] = []
        for (index, row) in rows.enumerated() {
            let pairs = zip(columns, row).map { ($0, resolve($1, 2)) }.filter { method == "PUT" || !$0.1.isEmpty }
            let answer = try call(method, "/crm/2", key: keyB, body: .form(pairs))
            if answer.status >= 400 {
                expected.append(["row": String(index + 1), "code": answer.json["code"] as? String ?? "?",
                                 "parameter": answer.json["parameter"] as? String ?? "null",
                                 "message": answer.json["message"] as? String ?? "?"])
            }
        }
        // The import of the same rows into listing 1.
        let csv = ([columns] + rows.map { $0.map { Self.quoted(resolve($0, 1)) } }).map { $0.joined(separator: ",") }.joined(separator: "\r\n")
        let job = try imported(1, csv, mode: mode, file: file, line: line)
        XCTAssertEqual(job["status"] as? String, "completed", file: file, line: line)
        XCTAssertEqual(job["rows"] as? Int, rows.count, file: file, line: line)
        XCTAssertEqual(job["rejected"] as? Int, expected.count, file: file, line: line)
        let reported = try importErrors(1, job["import_id"] as? Int ?? 0).map { line in
            ["row": "\(line["row"] as? Int ?? 0)", "code": line["code"] as? String ?? "?",
             "parameter": line["parameter"] as? String ?? "null", "message": line["message"] as? String ?? "?"]
        }
        XCTAssertEqual(reported, expected, file: file, line: line)
        XCTAssertEqual(try table(1), try table(2), "the same final table", file: file, line: line)
    }

    /// The listing's contacts without ids and dates.
    private func table(_ listing: Int64) throws -> [String] {
        try textRows("""
            SELECT concat_ws('|', email, phone, first_name, last_name, host(ip_address), source, status)
              FROM contacts WHERE listing_id = $1 ORDER BY 1
            """, [listing])
    }

    static func quoted(_ cell: String) -> String {
        cell.contains(where: { ",\"\r\n".contains($0) }) ? "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : cell
    }

    func testCreateRowsGetPOSTsAnswers() throws {
        try check(mode: "create", method: "POST", rows: [
            ["", "new1@example.com", "", "New", "One", ""],
            ["", "bad-email", "", "", "", ""],
            ["", "", "123", "", "", ""],
            ["", "", "", "Only", "Name", ""],
            ["", "bl@example.com", "", "", "", ""],
            ["", "x@blocked.example", "", "", "", ""],
            ["", "", "+1 (555) 999-0000", "", "", ""],
            ["", "listed@example.com", "", "", "", ""],
            ["", "A@example.com", "", "", "", ""],
            ["", "", "15550000002", "", "", ""],
            ["", "new1@example.com", "15550000009", "", "", ""],
            ["", " NEW2@Example.com ", "+1 555 000 0003", "Quote \"Q\", Jr", "Two", "10.0.0.1"],
            ["", "new3@example.com", "", String(repeating: "x", count: 101), "", ""],
            ["", "new4@example.com", "", "Tab\there", "", ""],
            ["", "new5@example.com", "", "", "", "not-an-ip"],
            ["", "new6@example.com", "", "", "", "::ffff:192.0.2.7"],
            ["", "", "15550000003", "", "", ""],
        ])
    }

    func testUpsertRowsGetPUTsAnswers() throws {
        try check(mode: "upsert", method: "PUT", rows: [
            ["", "a@example.com", "", "Alice", "", ""],
            ["", "a@example.com", "15550000002", "", "", ""],
            ["999999", "", "", "Nobody", "", ""],
            ["999998", "c@example.com", "", "Cee", "", ""],
            ["{A}", "b@example.com", "", "", "", ""],
            ["{A}", "", "", "", "", ""],
            ["{B}", "", "15550000022", "", "", ""],
            ["", "d@example.com", "", "Dee", "", ""],
            ["", "D@example.com", "15550000004", "", "Later", ""],
            ["", "bl@example.com", "", "", "", ""],
            ["{B}", "b2@blocked.example", "", "", "", ""],
            ["", "", "", "Nameless", "", ""],
            ["x", "e@example.com", "", "", "", ""],
            ["{A}", "a-new@example.com", "15550000001", "", "", "198.51.100.4"],
            ["", "a-new@example.com", "15550000022", "", "", ""],
        ])
    }
}
