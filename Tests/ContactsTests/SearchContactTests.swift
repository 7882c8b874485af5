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

    func testHeadAnswersLikeGetWithoutABody() throws {
        _ = try create([("email", "head@example.com")])
        let get = try get(1)
        let head = try call("HEAD", "/crm/1", key: keyA)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.header("Content-Length"), String(get.body.count))
        XCTAssertTrue(head.body.isEmpty)
    }
}
