import Dispatch
import Foundation
import Synchronization
import TestSupport
import XCTest

/// PUT /crm/{listing_id}: update, or create when not found.
final class UpdateContactTests: ContactsTestCase {
    private func create(_ listing: Int64, _ fields: [(String, String)]) throws -> Int {
        let response = try post(listing, fields)
        XCTAssertEqual(response.status, 201)
        return contact(response)["contact_id"] as? Int ?? -1
    }

    func testAnIDOfThisListingUpdatesOnlyTheGivenFields() throws {
        let id = try create(1, [("email", "a@example.com"), ("first_name", "Ann"), ("last_name", "Lee")])
        let response = try put(1, [("id", "\(id)"), ("first_name", "Anna")])
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.json["message"] as? String, "Contact successfully updated.")
        let updated = contact(response)
        XCTAssertEqual(updated["contact_id"] as? Int, id)
        XCTAssertEqual(updated["contact_first_name"] as? String, "Anna")
        XCTAssertEqual(updated["contact_last_name"] as? String, "Lee", "not given, unchanged")
        XCTAssertEqual(updated["contact_email"] as? String, "a@example.com")
    }

    func testUpdatingWithTheStoredValuesIsASuccess() throws {
        let id = try create(1, [("email", "same@example.com"), ("first_name", "Same")])
        let response = try put(1, [("id", "\(id)"), ("email", "same@example.com"), ("first_name", "Same")])
        XCTAssertEqual(response.status, 200)
    }

    func testAnIDOfAnotherListingCreatesANewContactAndLeavesTheOtherAlone() throws {
        let foreign = try create(2, [("email", "theirs@example.com"), ("first_name", "Theirs")])
        let response = try put(1, [("id", "\(foreign)"), ("email", "mine@example.com"), ("first_name", "Mine")])
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.json["message"] as? String, "New contact successfully created.")
        XCTAssertNotEqual(contact(response)["contact_id"] as? Int, foreign, "a new server-assigned id")
        let theirs = try get(2, "id=\(foreign)")
        let stored = (data(theirs)["results"] as? [[String: Any]])?.first
        XCTAssertEqual(stored?["contact_first_name"] as? String, "Theirs")
        XCTAssertEqual(stored?["contact_email"] as? String, "theirs@example.com")
    }

    func testAnUnknownIDWithoutEmailOrPhoneIs404() throws {
        let response = try put(1, [("id", "999999"), ("first_name", "Nobody")])
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.json["code"] as? String, "not_found")
        XCTAssertEqual(response.json["message"] as? String, "The contact ID provided was not found.")
        XCTAssertEqual(try contactCount(), 0)
    }

    func testWithoutAnIDTheContactIsFoundByEmailOrPhoneOrCreated() throws {
        let id = try create(1, [("email", "Find@Example.com"), ("phone", "15550000001")])
        let byEmail = try put(1, [("email", "find@example.com"), ("last_name", "ByEmail")])
        XCTAssertEqual(byEmail.status, 200)
        XCTAssertEqual(contact(byEmail)["contact_id"] as? Int, id)
        let byPhone = try put(1, [("phone", "+1 555 000 0001"), ("last_name", "ByPhone")])
        XCTAssertEqual(byPhone.status, 200)
        XCTAssertEqual(contact(byPhone)["contact_last_name"] as? String, "ByPhone")
        let created = try put(1, [("email", "brand-new@example.com")])
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(try contactCount(1), 2)
    }

    func testAnEmailOfOneContactAndAPhoneOfAnotherIs409() throws {
        let first = try create(1, [("email", "one@example.com")])
        _ = try create(1, [("phone", "15550000002")])
        let response = try put(1, [("email", "one@example.com"), ("phone", "15550000002")])
        XCTAssertEqual(response.status, 409)
        XCTAssertEqual(response.json["code"] as? String, "duplicate")
        XCTAssertEqual(data(response)["contact_id"] as? Int, first)
    }

    func testChangingTheEmailOrPhoneToAnotherContactsIs409() throws {
        let mine = try create(1, [("email", "mine@example.com")])
        let theirs = try create(1, [("email", "theirs@example.com"), ("phone", "15550000003")])
        for fields in [[("id", "\(mine)"), ("email", "THEIRS@example.com")], [("id", "\(mine)"), ("phone", "15550000003")]] {
            let response = try put(1, fields)
            XCTAssertEqual(response.status, 409)
            XCTAssertEqual(data(response)["contact_id"] as? Int, theirs)
        }
        let stored = (data(try get(1, "id=\(mine)"))["results"] as? [[String: Any]])?.first
        XCTAssertEqual(stored?["contact_email"] as? String, "mine@example.com", "unchanged")
    }

    func testABlacklistedNewValueIsRefusedAndNothingChanges() throws {
        let id = try create(1, [("email", "clean@example.com")])
        try sql("INSERT INTO blacklist_entries (listing_id, kind, value) VALUES (NULL, 'domain', 'spam.example')")
        let response = try put(1, [("id", "\(id)"), ("email", "clean@spam.example")])
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.json["code"] as? String, "blacklisted")
        XCTAssertEqual(response.json["parameter"] as? String, "email")
        let created = try put(1, [("email", "new@spam.example")])
        XCTAssertEqual(created.status, 400)
        XCTAssertEqual(try contactCount(1), 1)
    }

    func testEmptyValuesClearFieldsButAContactKeepsAnEmailOrAPhone() throws {
        let id = try create(1, [("email", "clear@example.com"), ("phone", "15550000004"), ("first_name", "Clear"), ("last_name", "Me")])
        let cleared = try put(1, [("id", "\(id)"), ("first_name", ""), ("last_name", " "), ("phone", "")])
        XCTAssertEqual(cleared.status, 200)
        XCTAssertTrue(contact(cleared)["contact_first_name"] is NSNull)
        XCTAssertTrue(contact(cleared)["contact_last_name"] is NSNull)
        XCTAssertTrue(contact(cleared)["contact_phone"] is NSNull)
        let lastOne = try put(1, [("id", "\(id)"), ("email", "")])
        XCTAssertEqual(lastOne.status, 400, "the email is all that is left")
        XCTAssertEqual(lastOne.json["parameter"] as? String, "email")
        let both = try put(1, [("id", "\(id)"), ("email", ""), ("phone", "")])
        XCTAssertEqual(both.status, 400)
        let stored = (data(try get(1, "id=\(id)"))["results"] as? [[String: Any]])?.first
        XCTAssertEqual(stored?["contact_email"] as? String, "clear@example.com")
    }
}
