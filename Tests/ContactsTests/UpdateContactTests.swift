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
        let listing2 = try contactsTable(2)
        let response = try put(1, [("id", "\(foreign)"), ("email", "mine@example.com"), ("first_name", "Mine")])
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.json["message"] as? String, "New contact successfully created.")
        XCTAssertNotEqual(contact(response)["contact_id"] as? Int, foreign, "a new server-assigned id")
        XCTAssertEqual(try contactsTable(2), listing2, "listing 2's contact is untouched")
        XCTAssertEqual(try contactCount(1), 1)
    }

    func testAnUnknownIDWithoutEmailOrPhoneIs404() throws {
        _ = try create(1, [("email", "bystander@example.com")])
        let before = try contactsTable()
        let response = try put(1, [("id", "999999"), ("first_name", "Nobody")])
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(response.json["code"] as? String, "not_found")
        XCTAssertEqual(response.json["message"] as? String, "The contact ID provided was not found.")
        XCTAssertEqual(try contactsTable(), before)
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
        let before = try contactsTable()
        let response = try put(1, [("email", "one@example.com"), ("phone", "15550000002")])
        XCTAssertEqual(response.status, 409)
        XCTAssertEqual(response.json["code"] as? String, "duplicate")
        XCTAssertEqual(data(response)["contact_id"] as? Int, first)
        XCTAssertEqual(try contactsTable(), before)
    }

    func testChangingTheEmailOrPhoneToAnotherContactsIs409() throws {
        let mine = try create(1, [("email", "mine@example.com")])
        let theirs = try create(1, [("email", "theirs@example.com"), ("phone", "15550000003")])
        let before = try contactsTable()
        for fields in [[("id", "\(mine)"), ("email", "THEIRS@example.com")], [("id", "\(mine)"), ("phone", "15550000003")]] {
            let response = try put(1, fields)
            XCTAssertEqual(response.status, 409)
            XCTAssertEqual(data(response)["contact_id"] as? Int, theirs)
        }
        XCTAssertEqual(try contactsTable(), before, "both contacts unchanged")
    }

    func testABlacklistedNewValueIsRefusedAndNothingChanges() throws {
        let id = try create(1, [("email", "clean@example.com")])
        try sql("INSERT INTO blacklist_entries (listing_id, kind, value) VALUES (NULL, 'domain', 'spam.example')")
        let before = try contactsTable()
        let response = try put(1, [("id", "\(id)"), ("email", "clean@spam.example")])
        XCTAssertEqual(response.status, 400)
        XCTAssertEqual(response.json["code"] as? String, "blacklisted")
        XCTAssertEqual(response.json["parameter"] as? String, "email")
        let created = try put(1, [("email", "new@spam.example")])
        XCTAssertEqual(created.status, 400)
        XCTAssertEqual(try contactsTable(), before)
    }

    func testEmptyValuesClearFieldsButAContactKeepsAnEmailOrAPhone() throws {
        let id = try create(1, [("email", "clear@example.com"), ("phone", "15550000004"), ("first_name", "Clear"), ("last_name", "Me")])
        let cleared = try put(1, [("id", "\(id)"), ("first_name", ""), ("last_name", " "), ("phone", "")])
        XCTAssertEqual(cleared.status, 200)
        XCTAssertTrue(contact(cleared)["contact_first_name"] is NSNull)
        XCTAssertTrue(contact(cleared)["contact_last_name"] is NSNull)
        XCTAssertTrue(contact(cleared)["contact_phone"] is NSNull)
        let before = try contactsTable()
        let lastOne = try put(1, [("id", "\(id)"), ("email", "")])
        XCTAssertEqual(lastOne.status, 400, "the email is all that is left")
        XCTAssertEqual(lastOne.json["parameter"] as? String, "email")
        let both = try put(1, [("id", "\(id)"), ("email", ""), ("phone", "")])
        XCTAssertEqual(both.status, 400)
        XCTAssertEqual(try contactsTable(), before, "the refused clears changed nothing")
    }

    func testJSONNullIsAbsentOnPutAndChangesNothing() throws {
        let id = try create(1, [("email", "null@example.com"), ("phone", "15550000101"), ("first_name", "Kept"), ("last_name", "Too")])
        let before = try contactsTable()
        let response = try call("PUT", "/crm/1", key: keyA,
                                body: .json(#"{"id": \#(id), "first_name": null, "last_name": null, "phone": null, "ip_address": null}"#))
        XCTAssertEqual(response.status, 200, response.bodyText)
        XCTAssertEqual(contact(response)["contact_first_name"] as? String, "Kept")
        XCTAssertEqual(contact(response)["contact_last_name"] as? String, "Too")
        XCTAssertEqual(contact(response)["contact_phone"] as? String, "15550000101")
        XCTAssertEqual(try contactsTable(), before, "null is absent: no field, not even contact_updated_date, changes")
        let withoutIdentifier = try call("PUT", "/crm/1", key: keyA, body: .json(#"{"email": null, "phone": null, "first_name": "X"}"#))
        XCTAssertEqual(withoutIdentifier.status, 400)
        XCTAssertEqual(withoutIdentifier.json["code"] as? String, "missing_parameter")
        XCTAssertEqual(withoutIdentifier.json["parameter"] as? String, "email")
        XCTAssertEqual(try contactsTable(), before)
        let cleared = try call("PUT", "/crm/1", key: keyA, body: .json(#"{"id": \#(id), "first_name": ""}"#))
        XCTAssertEqual(cleared.status, 200)
        XCTAssertTrue(contact(cleared)["contact_first_name"] is NSNull, "an empty string, unlike null, clears")
    }

    func testAnExistingContactsAddressChangesOnlyWhenIPAddressIsGiven() throws {
        let id = try create(1, [("email", "ip@example.com"), ("ip_address", "198.51.100.7")])
        // The test client is 127.0.0.1: another client updating the contact does not move it.
        let byID = try put(1, [("id", "\(id)"), ("first_name", "Moved")])
        XCTAssertEqual(byID.status, 200)
        XCTAssertEqual(contact(byID)["contact_ip_address"] as? String, "198.51.100.7")
        let byEmail = try put(1, [("email", "ip@example.com"), ("last_name", "Again")])
        XCTAssertEqual(contact(byEmail)["contact_ip_address"] as? String, "198.51.100.7")
        let given = try put(1, [("id", "\(id)"), ("ip_address", "2001:db8::5")])
        XCTAssertEqual(given.status, 200)
        XCTAssertEqual(contact(given)["contact_ip_address"] as? String, "2001:db8::5")
        let stored = (data(try get(1, "id=\(id)"))["results"] as? [[String: Any]])?.first
        XCTAssertEqual(stored?["contact_ip_address"] as? String, "2001:db8::5")
        // A contact PUT creates records the client's address, or the one given.
        let created = try put(1, [("email", "new-ip@example.com")])
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(contact(created)["contact_ip_address"] as? String, "127.0.0.1")
        let createdWithIP = try put(1, [("email", "new-ip2@example.com"), ("ip_address", "203.0.113.1")])
        XCTAssertEqual(createdWithIP.status, 201)
        XCTAssertEqual(contact(createdWithIP)["contact_ip_address"] as? String, "203.0.113.1")
    }

    func testNameAndAddressRulesApplyOnPutAndARefusedPutChangesNothing() throws {
        let id = try create(1, [("email", "rules@example.com"), ("first_name", "Rule"), ("ip_address", "192.0.2.1")])
        let before = try contactsTable()
        let long = String(repeating: "x", count: 101)
        let rows: [(String, String)] = [
            ("first_name", long), ("first_name", "Tab\there"), ("first_name", "Line\u{2028}separator"),
            ("last_name", long), ("last_name", "C1\u{85}control"), ("last_name", "Null\u{0}byte"),
            ("ip_address", "10.0.0.256"), ("ip_address", "not-an-ip"), ("ip_address", "1.2.3.4\u{0}junk"), ("ip_address", "2001:db8::g"),
        ]
        for (parameter, value) in rows {
            // By id, by email, and creating: each refused, naming the parameter.
            for identifiers in [[("id", "\(id)")], [("email", "rules@example.com")], [("email", "would-be-new@example.com")]] {
                let response = try put(1, identifiers + [(parameter, value)])
                XCTAssertEqual(response.status, 400, "\(parameter)=\(value) \(identifiers)")
                XCTAssertEqual(response.json["code"] as? String, "invalid_parameter", "\(parameter)=\(value)")
                XCTAssertEqual(response.json["parameter"] as? String, parameter, "\(parameter)=\(value)")
            }
        }
        XCTAssertEqual(try contactsTable(), before, "no refused PUT changed or created anything")
        let valid = try put(1, [("id", "\(id)"), ("first_name", String(repeating: "é", count: 100)), ("ip_address", "2001:db8::1")])
        XCTAssertEqual(valid.status, 200, "the limits themselves are valid")
    }

    func testAnUnknownIDWithAnEmailOrPhoneAnotherContactHoldsIs409AndChangesNothing() throws {
        let holder = try create(1, [("email", "taken@example.com"), ("phone", "15550000202")])
        let foreign = try create(2, [("email", "elsewhere@example.com")])
        let before = try contactsTable()
        let attempts: [[(String, String)]] = [
            [("id", "987654"), ("email", "TAKEN@example.com")],
            [("id", "987654"), ("phone", "+1 555 000 0202")],
            [("id", "987654"), ("email", "free@example.com"), ("phone", "15550000202")],
            [("id", "\(foreign)"), ("email", "taken@example.com"), ("first_name", "Intruder")],
        ]
        for fields in attempts {
            let response = try put(1, fields)
            XCTAssertEqual(response.status, 409, "\(fields): \(response.bodyText)")
            XCTAssertEqual(response.json["code"] as? String, "duplicate")
            XCTAssertEqual(response.json["message"] as? String, "A contact with this email or phone already exists.")
            XCTAssertEqual(data(response)["contact_id"] as? Int, holder, "\(fields)")
        }
        XCTAssertEqual(try contactsTable(), before, "nothing created, the holder and the other listing's contact unchanged")
    }
}
