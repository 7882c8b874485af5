import Foundation
import TestSupport
import XCTest

/// GET and HEAD /crm/{listing_id}.
final class SearchContactTests: ContactsTestCase {
    private func results(_ response: RawHTTPClient.Response) -> [[String: Any]] {
        (data(response)["results"] as? [[String: Any]]) ?? []
    }

    private func ids(_ response: RawHTTPClient.Response) -> [Int] {
        results(response).compactMap { $0["contact_id"] as? Int }
    }

    private func create(_ fields: [(String, String)], listing: Int64 = 1) throws -> Int {
        let response = try post(listing, fields)
        XCTAssertEqual(response.status, 201, response.bodyText)
        return contact(response)["contact_id"] as? Int ?? -1
    }

    func testEachFilterAndTheirCombination() throws {
        let john = try create([("first_name", "John"), ("last_name", "Doe"), ("email", "John.Doe@Example.com"), ("phone", "15551230001")])
        let jane = try create([("first_name", "Jane"), ("last_name", "Doering"), ("email", "jane@example.com")])
        let bob = try create([("first_name", "Bob"), ("last_name", "Johnson"), ("phone", "15551230003")])
        _ = try create([("first_name", "John"), ("email", "other-listing@example.com")], listing: 2)
        let cases: [(String, [Int])] = [
            ("id=\(jane)", [jane]),
            ("email=JOHN.DOE%40example.com", [john]),
            ("phone=%2B1+(555)+123-0003", [bob]),
            ("first_name=JOH", [john]),
            ("last_name=doe", [john, jane]),
            ("name=john", [john, bob]),
            ("name=n+d", [john]),
            ("name=doe&first_name=jan", [jane]),
            ("", [john, jane, bob]),
        ]
        for (query, expected) in cases {
            let response = try get(1, query)
            XCTAssertEqual(response.status, 200, query)
            XCTAssertEqual(ids(response), expected, query)
            XCTAssertEqual(response.json["message"] as? String, "\(expected.count) record(s) found.")
        }
    }

    /// A page is written by the service from plain columns (ContactColumns), a write's contact by
    /// PostgreSQL (crm_contact_json): the two show a contact alike, whatever its text holds.
    func testAPageShowsEachContactAsItsWriteDid() throws {
        let created = try post(1, [("first_name", #"Zoë "Q" \ O'Brien 🙂"#), ("last_name", "São/Paulo <b>"),
                                   ("email", "page@example.com"), ("phone", "15551230009")])
        XCTAssertEqual(created.status, 201, created.bodyText)
        let id = contact(created)["contact_id"] as? Int ?? -1
        let page = try get(1, "id=\(id)")
        XCTAssertEqual(page.status, 200, page.bodyText)
        XCTAssertEqual(results(page).first.map { NSDictionary(dictionary: $0) }, NSDictionary(dictionary: contact(created)))
        XCTAssertEqual(results(page).first?["contact_first_name"] as? String, #"Zoë "Q" \ O'Brien 🙂"#)
        // Written with plain SQL: fractional seconds, a network for an address, no names.
        try sql("""
            INSERT INTO contacts (listing_id, email, ip_address, created_at, updated_at)
            VALUES (1, 'sql@example.com', '10.1.0.0/16', '2026-03-04 05:06:07.891+02', '2026-03-04 23:59:59.999999+00')
            """)
        let written = results(try get(1, "email=sql%40example.com")).first ?? [:]
        XCTAssertEqual(written["contact_created_date"] as? String, "2026-03-04 03:06:07")
        XCTAssertEqual(written["contact_updated_date"] as? String, "2026-03-04 23:59:59")
        XCTAssertEqual(written["contact_ip_address"] as? String, "10.1.0.0")
        XCTAssertTrue(written["contact_first_name"] is NSNull)
        XCTAssertTrue(written["contact_phone"] is NSNull)
        XCTAssertEqual(written["contact_source"] as? String, "api")
    }

    func testNothingFoundIs404WithEmptyResults() throws {
        let response = try get(1, "email=nobody%40example.com")
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.json["code"] as? String, "not_found")
        XCTAssertEqual(response.json["message"] as? String, "No contacts found.")
        XCTAssertEqual((data(response)["results"] as? [Any])?.count, 0)
    }

    func testWildcardCharactersInSearchTermsAreLiteral() throws {
        let percent = try create([("first_name", "100%"), ("email", "p@example.com")])
        let underscore = try create([("first_name", "a_b"), ("email", "u@example.com")])
        let backslash = try create([("first_name", #"back\slash"#), ("email", "b@example.com")])
        _ = try create([("first_name", "1000"), ("email", "n@example.com")])
        _ = try create([("first_name", "axb"), ("email", "x@example.com")])
        XCTAssertEqual(ids(try get(1, "first_name=0%25")), [percent])
        XCTAssertEqual(ids(try get(1, "first_name=_")), [underscore])
        XCTAssertEqual(ids(try get(1, "first_name=%5Cs")), [backslash])
        XCTAssertEqual(try get(1, "first_name=%25%25").status, 404)
        XCTAssertEqual(ids(try get(1, "name=%27%3B+DROP+TABLE+contacts%3B--")), [], "SQL in a term is just text")
        XCTAssertEqual(try contactCount(1), 5)
    }

    func testSQLAndWildcardTextInEveryParameterIsStoredAndFoundLiterally() throws {
        let hostile = ["Robert'); DROP TABLE contacts;--", "' OR '1'='1", #"%_\"#, "$1::text", #"\x00' --"#]
        var created: [(id: Int, text: String, email: String)] = []
        for (n, text) in hostile.enumerated() {
            let email = #"o'h%_\#(n)@example.com"#
            let response = try post(1, [("first_name", text), ("last_name", text), ("email", email)])
            XCTAssertEqual(response.status, 201, response.bodyText)
            XCTAssertEqual(contact(response)["contact_first_name"] as? String, text)
            XCTAssertEqual(contact(response)["contact_last_name"] as? String, text)
            XCTAssertEqual(contact(response)["contact_email"] as? String, email)
            created.append((contact(response)["contact_id"] as? Int ?? -1, text, email))
        }
        for item in created {
            XCTAssertEqual(ids(try get(1, Self.formEncode([("email", item.email)]))), [item.id], item.email)
            let holders = created.filter { $0.text.contains(item.text) }.map(\.id)
            for parameter in ["first_name", "last_name", "name"] {
                XCTAssertEqual(ids(try get(1, Self.formEncode([(parameter, item.text)]))), holders, "\(parameter)=\(item.text)")
            }
            let updated = try put(1, [("email", item.email), ("first_name", item.text + "'")])
            XCTAssertEqual(contact(updated)["contact_first_name"] as? String, item.text + "'")
            XCTAssertEqual(try delete(1, [("email", item.email), ("id", String(item.id))]).status, 202)
        }
        XCTAssertEqual(try contactCount(), 0, "each delete removed exactly its contact, and the table is still there")
    }

    func testPagesWalkEveryContactExactlyOnce() throws {
        var created: [Int] = []
        for index in 0..<23 { created.append(try create([("email", "page\(index)@example.com")])) }
        var seen: [Int] = []
        var after: Int?
        var pages = 0
        repeat {
            let response = try get(1, "limit=5" + (after.map { "&after=\($0)" } ?? ""))
            XCTAssertEqual(response.status, 200)
            seen += ids(response)
            after = data(response)["next_after"] as? Int
            pages += 1
        } while after != nil && pages < 10
        XCTAssertEqual(seen, created)
        XCTAssertEqual(pages, 5)
    }

    func testAnExactlyFullLastPageHasNoNextAfter() throws {
        for index in 0..<4 { _ = try create([("email", "full\(index)@example.com")]) }
        let first = try get(1, "limit=2")
        XCTAssertNotNil(data(first)["next_after"] as? Int)
        let last = try get(1, "limit=2&after=\(data(first)["next_after"] as? Int ?? 0)")
        XCTAssertEqual(ids(last).count, 2)
        XCTAssertTrue(data(last)["next_after"] is NSNull)
    }

    func testTheDefaultLimitIs100AndTheLargestIs1000() throws {
        try sql("INSERT INTO contacts (listing_id, email) SELECT 1, 'bulk' || g || '@example.com' FROM generate_series(1, 1001) g")
        let database = self.database!
        let all = try blocking {
            let connection = try await database.connect()
            let rows = try await connection.query("SELECT contact_id FROM contacts WHERE listing_id = 1 ORDER BY contact_id").rows
            let ids = try rows.map { try $0.decode(Int.self, column: 0) }
            await connection.close()
            return ids
        }
        XCTAssertEqual(all.count, 1001)
        let first = try get(1)
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(ids(first), Array(all.prefix(100)), "100 without a limit")
        XCTAssertEqual(first.json["message"] as? String, "100 record(s) found.")
        XCTAssertEqual(data(first)["next_after"] as? Int, all[99])
        let largest = try get(1, "limit=1000")
        XCTAssertEqual(ids(largest), Array(all.prefix(1000)))
        XCTAssertEqual(largest.json["message"] as? String, "1000 record(s) found.")
        XCTAssertEqual(data(largest)["next_after"] as? Int, all[999])
        let rest = try get(1, "limit=1000&after=\(all[999])")
        XCTAssertEqual(ids(rest), [all[1000]])
        XCTAssertTrue(data(rest)["next_after"] is NSNull)
        let tooMany = try get(1, "limit=1001")
        XCTAssertEqual(tooMany.status, 400)
        XCTAssertEqual(tooMany.json["parameter"] as? String, "limit")
        XCTAssertEqual(tooMany.json["message"] as? String, "limit must be a whole number from 1 to 1000.")
    }

    func testHeadWithNoMatchIs404WithGetsHeadersAndNoBody() throws {
        let get = try get(1, "email=nobody%40example.com")
        XCTAssertEqual(get.status, 404)
        // HEAD then GET on one connection: were a body sent after HEAD's head, the GET's answer
        // would be read out of it.
        let client = try RawHTTPClient(port: server.port)
        let auth = "Authorization: Bearer \(keyA.text)\r\n"
        try client.send("HEAD /crm/1?email=nobody%40example.com HTTP/1.1\r\n\(auth)\r\nGET /healthz HTTP/1.1\r\n\r\n")
        let head = try client.readResponse(bodyless: true)
        XCTAssertEqual(head.status, 404)
        XCTAssertEqual(head.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertEqual(head.header("Content-Length"), String(get.body.count))
        XCTAssertTrue(head.body.isEmpty)
        let next = try client.readResponse()
        XCTAssertEqual(next.status, 200)
        XCTAssertEqual(next.json["message"] as? String, "The service is running.", "the next answer starts right after HEAD's head")
    }

    func testCaseInsensitiveSearchCoversNonASCIILetters() throws {
        let müller = try create([("first_name", "Jürgen"), ("last_name", "Müller"), ("email", "Jürgen.Müller@Exämple.de")])
        let élodie = try create([("first_name", "Élodie"), ("last_name", "Dupré"), ("email", "elodie@example.fr")])
        let øre = try create([("first_name", "Øre"), ("last_name", "ΣΊΣΥΦΟΣ"), ("email", "sisyphus@example.gr")])
        let cases: [(String, [Int])] = [
            ("last_name=M%C3%9CLLER", [müller]),            // MÜLLER
            ("last_name=m%C3%BCller", [müller]),            // müller
            ("last_name=%C3%9C", [müller]),                 // Ü: one letter, no trigram
            ("first_name=J%C3%9CRGEN", [müller]),           // JÜRGEN
            ("name=j%C3%BCrgen+M%C3%9Cller", [müller]),     // jürgen Müller
            ("first_name=%C3%A9LODIE", [élodie]),           // éLODIE
            ("name=DUPR%C3%89", [élodie]),                  // DUPRÉ
            ("first_name=%C3%B8RE", [øre]),                 // øRE
            ("last_name=%CF%83%CE%AF%CF%83%CF%85%CF%86", [øre]),  // σίσυφ
            ("email=j%C3%BCrgen.m%C3%BCller%40EX%C3%84MPLE.DE", [müller]),  // jürgen.müller@EXÄMPLE.DE
        ]
        for (query, expected) in cases {
            let response = try get(1, query)
            XCTAssertEqual(response.status, 200, "\(query): \(response.bodyText)")
            XCTAssertEqual(ids(response), expected, query)
        }
    }

    func testHeadAnswersLikeGetWithoutABody() throws {
        _ = try create([("email", "head@example.com")])
        let get = try get(1)
        let head = try call("HEAD", "/crm/1", key: keyA)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), String(get.body.count))
        XCTAssertTrue(head.body.isEmpty)
    }
}
