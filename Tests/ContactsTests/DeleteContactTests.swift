import Foundation
import TestSupport
import XCTest

/// DELETE /crm/{listing_id}.
final class DeleteContactTests: ContactsTestCase {
    private func create(_ listing: Int64, _ fields: [(String, String)]) throws -> Int {
        contact(try post(listing, fields))["contact_id"] as? Int ?? -1
    }

    func testEachIdentifierAndEveryMatchingCombinationDeletes() throws {
        let combinations: [[String]] = [["id"], ["email"], ["phone"], ["id", "email"], ["id", "phone"], ["email", "phone"], ["id", "email", "phone"]]
        for (index, names) in combinations.enumerated() {
            let email = "del\(index)@example.com", phone = "1555000010\(index)"
            let id = try create(1, [("email", email), ("phone", phone)])
            let values = ["id": "\(id)", "email": email.uppercased(), "phone": "+" + phone]
            let response = try delete(1, names.map { ($0, values[$0]!) })
            XCTAssertEqual(response.status, 202, "\(names)")
            XCTAssertEqual(response.json["message"] as? String, "Contact deleted successfully.")
            XCTAssertEqual(data(response)["contact_ids"] as? [Int], [id])
        }
        XCTAssertEqual(try contactCount(), 0, "the rows are gone from the table")
    }

    func testIdentifiersOfDifferentContactsMatchNothing() throws {
        let first = try create(1, [("email", "first@example.com")])
        _ = try create(1, [("email", "second@example.com"), ("phone", "15550000200")])
        let before = try contactsTable()
        for fields in [[("id", "\(first)"), ("email", "second@example.com")], [("email", "first@example.com"), ("phone", "15550000200")]] {
            let response = try delete(1, fields)
            XCTAssertEqual(response.status, 404)
            XCTAssertEqual(response.json["code"] as? String, "not_found")
            XCTAssertEqual(response.json["message"] as? String, "No contact matches the given identifiers.")
        }
        XCTAssertEqual(try contactsTable(), before)
    }

    func testAContactOfAnotherListingCannotBeDeleted() throws {
        let theirs = try create(2, [("email", "theirs@example.com")])
        let before = try contactsTable()
        XCTAssertEqual(try delete(1, [("id", "\(theirs)")]).status, 404)
        XCTAssertEqual(try delete(1, [("email", "theirs@example.com")]).status, 404)
        XCTAssertEqual(try contactsTable(), before)
    }

    func testWithoutAnyIdentifierItIs400() throws {
        _ = try create(1, [("email", "john@example.com"), ("first_name", "John")])
        let before = try contactsTable()
        let response = try delete(1, [("first_name", "John")])
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.json["code"] as? String, "missing_parameter")
        XCTAssertEqual(response.json["parameter"] as? String, "id")
        XCTAssertEqual(try contactsTable(), before, "a name is no identifier: nothing deleted")
    }

    func testDeletedPersonalDataIsGoneFromTheDatabase() throws {
        let id = try create(1, [("email", "forget-me@example.com"), ("first_name", "Forget"), ("phone", "15550000300")])
        XCTAssertEqual(try delete(1, [("id", "\(id)")]).status, 202)
        let database = self.database!
        let traces = try blocking {
            let connection = try await database.connect()
            let count = try await connection.query("""
                SELECT count(*) FROM contacts WHERE email = 'forget-me@example.com' OR first_name = 'Forget' OR phone = '15550000300'
                """)[0].decode(Int.self, column: 0)
            await connection.close()
            return count
        }
        XCTAssertEqual(traces, 0)
    }
}
