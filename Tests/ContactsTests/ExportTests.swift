import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Exports (API.md §12): every matching contact from one snapshot, in CSV or NDJSON, and the
/// change-feed cursor of that snapshot, from which the feed misses nothing and repeats nothing.
final class ExportTests: ContactsTestCase {
    private func export(_ query: String = "", key: APIKey? = nil) throws -> RawHTTPClient.Response {
        try call("GET", "/crm/1/export" + (query.isEmpty ? "" : "?" + query), key: key ?? keyA)
    }

    /// The listing as GET pages show it, every contact's JSON object in id order.
    private func listed() throws -> [[String: Any]] {
        data(try get(1, "limit=1000"))["results"] as? [[String: Any]] ?? []
    }

    /// Every event after `cursor`, page by page (2 at a time, so the skips travel in next_after).
    private func feed(after cursor: String) throws -> [[String: Any]] {
        var after = cursor
        var events: [[String: Any]] = []
        while true {
            let page = try call("GET", "/crm/1/changes?limit=2&after=\(after)", key: keyA)
            XCTAssertEqual(page.status, 200, page.bodyText)
            let results = data(page)["results"] as? [[String: Any]] ?? []
            events += results
            after = data(page)["next_after"] as? String ?? after
            if results.count < 2 { return events }
        }
    }

    static let fields = ["contact_id", "contact_unique_id", "contact_first_name", "contact_last_name", "contact_email",
                         "contact_phone", "contact_created_date", "contact_updated_date", "contact_ip_address",
                         "contact_source", "contact_status"]

    /// A contact as an RFC 4180 record of ``fields``; null is an empty field.
    static func csvRecord(_ contact: [String: Any]) -> String {
        fields.map { name -> String in
            switch contact[name] {
            case let number as Int: return String(number)
            case let text as String: return ImportRuleTests.quoted(text)
            default: return ""
            }
        }.joined(separator: ",")
    }

    func testTheCSVExportIsEveryContactAsGETShowsItWithAHeaderRow() throws {
        XCTAssertEqual(try post(1, [("email", "a@example.com"), ("first_name", "Comma, \"Quoted\"")]).status, 201)
        XCTAssertEqual(try post(1, [("phone", "15550000002"), ("last_name", "Snow ☃ Man")]).status, 201)
        XCTAssertEqual(try post(2, [("email", "other@example.com")]).status, 201)
        let response = try export()
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.header("Content-Type"), "text/csv; charset=utf-8")
        XCTAssertEqual(response.header("Transfer-Encoding"), "chunked")
        XCTAssertNotNil(response.header("X-Change-Cursor"))
        let expected = ([Self.fields.joined(separator: ",")] + (try listed()).map(Self.csvRecord)).joined(separator: "\n") + "\n"
        XCTAssertEqual(response.bodyText, expected)
    }

    func testTheNDJSONExportIsOneContactObjectPerLine() throws {
        for index in 1...30 { XCTAssertEqual(try post(1, [("email", "n\(index)@example.com"), ("first_name", "Back\\slash \(index)")]).status, 201) }
        let response = try export("format=ndjson")
        XCTAssertEqual(response.header("Content-Type"), "application/x-ndjson; charset=utf-8")
        let lines = response.bodyText.split(separator: "\n").map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? NSDictionary }
        XCTAssertEqual(lines.count, 30)
        XCTAssertEqual(lines.map { $0 ?? [:] }, try listed().map { $0 as NSDictionary })
    }

    func testGETsFiltersApplyAndNoMatchIsTheHeaderAloneOrNothing() throws {
        XCTAssertEqual(try post(1, [("email", "ann@example.com"), ("first_name", "Ann")]).status, 201)
        XCTAssertEqual(try post(1, [("email", "bob@example.com"), ("first_name", "Bob")]).status, 201)
        XCTAssertEqual(try export("name=an").bodyText.split(separator: "\n").count, 2, "the header and Ann")
        XCTAssertTrue(try export("email=BOB%40example.com").bodyText.contains("bob@example.com"))
        XCTAssertEqual(try export("email=none%40example.com").bodyText, Self.fields.joined(separator: ",") + "\n")
        XCTAssertEqual(try export("email=none%40example.com&format=ndjson").bodyText, "")
        XCTAssertEqual(try export("format=xml").json["parameter"] as? String, "format")
        XCTAssertEqual(try export("email=bad").json["parameter"] as? String, "email")
        XCTAssertEqual(try export(key: keyB).status, 403)
        let head = try call("HEAD", "/crm/1/export", key: keyA)
        XCTAssertEqual(head.status, 200)
        XCTAssertNotNil(head.header("X-Change-Cursor"))
        XCTAssertEqual(try export().status, 200, "a HEAD's unused snapshot went back to the pool")
    }

    /// A HEAD ends its snapshot once the cursor is read and gives its connection back to be
    /// lent again (its body's producer never runs: left in its transaction, the connection
    /// would be closed and the next request would open a new one).
    func testAHeadOfAnExportGivesItsConnectionBackOpen() throws {
        XCTAssertEqual(try export().status, 200)
        let discarded = pool.statistics.discardedOnRelease
        for _ in 0..<3 {
            let head = try call("HEAD", "/crm/1/export", key: keyA)
            XCTAssertEqual(head.status, 200)
            XCTAssertNotNil(head.header("X-Change-Cursor"))
            XCTAssertEqual(head.bodyText, "")
        }
        try waitUntil("every connection is back in the pool") { self.pool.statistics.inUse == 0 }
        XCTAssertEqual(pool.statistics.discardedOnRelease, discarded, "no connection was closed for being left in a transaction")
        XCTAssertEqual(try textRows("SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() "
                                    + "AND application_name = 'crm' AND state = 'idle in transaction'"), ["0"], "no snapshot left open")
    }

    /// A writer still open when the export takes its snapshot commits after it, and another
    /// that began after the first committed before it: the export holds the second, the feed
    /// from the export's cursor gives the first and nothing of the second.
    func testExportAndTheFeedFromItsCursorMissNothingAndRepeatNothing() throws {
        let database = self.database!
        XCTAssertEqual(try post(1, [("email", "before@example.com")]).status, 201)
        func open(_ email: String) throws -> PostgresConnection {
            try blocking {
                let connection = try await database.connect(applicationName: "writer")
                try await connection.simpleQuery("BEGIN")
                try await connection.query("INSERT INTO contacts (listing_id, email) VALUES (1, $1)", [email])
                return connection
            }
        }
        func end(_ connection: PostgresConnection) throws {
            try blocking {
                try await connection.simpleQuery("COMMIT")
                await connection.close()
            }
        }
        let older = try open("older@example.com")      // running through the export
        let newer = try open("newer@example.com")      // a later transaction id, committed first
        try end(newer)
        XCTAssertEqual(try put(1, [("email", "before@example.com"), ("first_name", "Changed")]).status, 200)
        let exported = try export("format=ndjson")
        let cursor = try XCTUnwrap(exported.header("X-Change-Cursor"))
        XCTAssertEqual(cursor.split(separator: "-").count, 4, "the cursor skips the newer transactions it holds: \(cursor)")
        try end(older)
        XCTAssertEqual(try post(1, [("email", "after@example.com")]).status, 201)
        XCTAssertEqual(try delete(1, [("email", "newer@example.com")]).status, 202)

        var table: [Int: NSDictionary] = [:]
        for line in exported.bodyText.split(separator: "\n") {
            let contact = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? NSDictionary)
            table[contact["contact_id"] as? Int ?? 0] = contact
        }
        XCTAssertEqual(Set(table.values.compactMap { $0["contact_email"] as? String }),
                       ["before@example.com", "newer@example.com"])
        // The feed shows an event once every older transaction on the cluster has ended.
        var events: [[String: Any]] = []
        try waitUntil("the feed shows the three changes after the export", timeout: .seconds(30)) {
            events = try feed(after: cursor)
            return events.count >= 3
        }
        let recorded = try textRows("SELECT string_agg(txid || ':' || seq || ' ' || change_type, ', ' ORDER BY txid, seq) FROM contact_changes")
        XCTAssertEqual(events.map { "\($0["type"] as? String ?? "") \($0["contact_id"] as? Int ?? 0)" }.count, 3,
                       "older created, after created, newer deleted: \(events) after \(cursor) in \(recorded)")
        for event in events {
            let id = event["contact_id"] as? Int ?? 0
            if event["type"] as? String == "contact.created" { XCTAssertNil(table[id], "a created contact the export holds is a repeat") }
            if let contact = event["contact"] as? NSDictionary { table[id] = contact } else { table[id] = nil }
        }
        XCTAssertEqual(table.keys.sorted().map { table[$0]! }, try listed().map { $0 as NSDictionary },
                       "the export and the feed from its cursor make the table")
    }
}
