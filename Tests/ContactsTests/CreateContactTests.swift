import Foundation
import Synchronization
import TestSupport
import XCTest

/// POST /crm/{listing_id}.
final class CreateContactTests: ContactsTestCase {
    func testACreatedContactHasAllElevenFieldsWithTheirTypesAndFormats() throws {
        let response = try post(1, [("first_name", " John "), ("last_name", "Doe"), ("email", "JohnDoe@Example.com"),
                                    ("phone", "+1 (555) 123-4567"), ("ip_address", "192.168.1.1")])
        XCTAssertEqual(response.status, 201)
        XCTAssertEqual(response.header("Content-Type"), "application/json; charset=utf-8")
        XCTAssertEqual(response.json["status"] as? String, "success")
        XCTAssertEqual(response.json["message"] as? String, "New contact successfully created.")
        let contact = contact(response)
        XCTAssertEqual(Set(contact.keys), [
            "contact_id", "contact_unique_id", "contact_first_name", "contact_last_name", "contact_email", "contact_phone",
            "contact_created_date", "contact_updated_date", "contact_ip_address", "contact_source", "contact_status",
        ])
        XCTAssertGreaterThan(contact["contact_id"] as? Int ?? 0, 0)
        XCTAssertTrue((contact["contact_unique_id"] as? String ?? "").hasPrefix("l-"))
        XCTAssertEqual(contact["contact_first_name"] as? String, "John", "trimmed")
        XCTAssertEqual(contact["contact_last_name"] as? String, "Doe")
        XCTAssertEqual(contact["contact_email"] as? String, "JohnDoe@Example.com", "stored as given")
        XCTAssertEqual(contact["contact_phone"] as? String, "15551234567", "digits only")
        XCTAssertEqual(contact["contact_ip_address"] as? String, "192.168.1.1")
        XCTAssertEqual(contact["contact_source"] as? String, "api")
        XCTAssertEqual(contact["contact_status"] as? String, "active")
        for field in ["contact_created_date", "contact_updated_date"] {
            let date = contact[field] as? String ?? ""
            XCTAssertNotNil(date.wholeMatch(of: /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/), "\(field): \(date)")
        }
        XCTAssertEqual(try contactCount(1), 1)
    }

    func testAbsentFieldsAreNullAndAPhoneAloneIsEnough() throws {
        let response = try post(1, [("phone", "555-123-4567")])
        XCTAssertEqual(response.status, 201)
        let contact = contact(response)
        XCTAssertTrue(contact["contact_email"] is NSNull)
        XCTAssertTrue(contact["contact_first_name"] is NSNull)
        XCTAssertTrue(contact["contact_last_name"] is NSNull)
        XCTAssertEqual(contact["contact_phone"] as? String, "5551234567")
    }

    func testWithoutEmailOrPhoneNothingIsCreated() throws {
        for fields in [[("first_name", "John")], [("email", ""), ("phone", "  ")], []] {
            let response = try post(1, fields)
            XCTAssertEqual(response.status, 400)
            XCTAssertEqual(response.json["code"] as? String, "missing_parameter")
            XCTAssertEqual(response.json["parameter"] as? String, "email")
        }
        XCTAssertEqual(try contactCount(), 0)
    }

    func testTheClientAddressIsRecordedWhenNoIPAddressIsGiven() throws {
        let v4 = try post(1, [("email", "v4@example.com")])
        XCTAssertEqual(contact(v4)["contact_ip_address"] as? String, "127.0.0.1")
        let v6 = try call("POST", "/crm/1", key: keyA, body: .form([("email", "v6@example.com")]), host: "::1")
        XCTAssertEqual(contact(v6)["contact_ip_address"] as? String, "::1")
        let forwarded = try call("POST", "/crm/1", key: keyA, body: .form([("email", "xff@example.com")]),
                                 headers: [("X-Forwarded-For", "203.0.113.9")])
        XCTAssertEqual(contact(forwarded)["contact_ip_address"] as? String, "127.0.0.1", "no trusted proxy declared")
    }

    func testJSONAndMultipartBodiesWorkLikeForms() throws {
        let json = try call("POST", "/crm/1", key: keyA, body: .json(#"{"email":"json@example.com","phone":15550001234,"first_name":null}"#))
        XCTAssertEqual(json.status, 201)
        XCTAssertEqual(contact(json)["contact_phone"] as? String, "15550001234", "a JSON number is taken as its digits")
        XCTAssertTrue(contact(json)["contact_first_name"] is NSNull)
        let multipart = try call("POST", "/crm/1", key: keyA, body: .multipart([("email", "multi@example.com"), ("last_name", "Ünïcode")]))
        XCTAssertEqual(multipart.status, 201)
        XCTAssertEqual(contact(multipart)["contact_last_name"] as? String, "Ünïcode")
        let charset = try call("POST", "/crm/1", key: keyA, body: .raw(contentType: "application/x-www-form-urlencoded; charset=UTF-8",
                                                                        bytes: Array("email=charset%40example.com".utf8)))
        XCTAssertEqual(charset.status, 201)
        let query = try call("POST", "/crm/1?email=query%40example.com", key: keyA)
        XCTAssertEqual(query.status, 201, "parameters may come in the query string")
        XCTAssertEqual(try contactCount(1), 4)
    }

    func testAnotherBodyTypeIs415AndWritesNothing() throws {
        let response = try call("POST", "/crm/1", key: keyA, body: .raw(contentType: "text/plain", bytes: Array("email=a@b.co".utf8)))
        XCTAssertEqual(response.status, 415)
        XCTAssertEqual(response.json["code"] as? String, "unsupported_media_type")
        XCTAssertEqual(try contactCount(), 0)
    }

    func testDuplicatesInAListingAre409WithTheExistingContact() throws {
        let original = try post(1, [("email", "Dup@Example.com"), ("phone", "+1 555 000 0001")])
        let existing = contact(original)["contact_id"] as? Int
        let before = try contactsTable()
        for fields in [[("email", "dup@example.com")], [("email", "DUP@EXAMPLE.COM")], [("phone", "1-555-000-0001")],
                       [("email", "new@example.com"), ("phone", "(1) 555.000.0001")]] {
            let response = try post(1, fields)
            XCTAssertEqual(response.status, 409, "\(fields)")
            XCTAssertEqual(response.json["code"] as? String, "duplicate")
            XCTAssertEqual(data(response)["contact_id"] as? Int, existing)
        }
        XCTAssertEqual(try contactsTable(), before, "nothing written")
        XCTAssertEqual(try post(2, [("email", "dup@example.com")]).status, 201, "another listing may have the same email")
    }

    func testBlacklistedEmailsDomainsAndPhonesAreRefusedGloballyOrPerListing() throws {
        let cases: [(kind: String, entry: String, field: (String, String), parameter: String)] = [
            ("email", "spam@example.com", ("email", "SPAM@example.com"), "email"),
            ("domain", "junk.example", ("email", "anyone@Junk.Example"), "email"),
            ("phone", "15550009999", ("phone", "+1 (555) 000-9999"), "phone"),
        ]
        for testCase in cases {
            for scope: Int64? in [nil, 1] {
                try sql("DELETE FROM blacklist_entries")
                try sql("INSERT INTO blacklist_entries (listing_id, kind, value) VALUES ($1, $2, $3)",
                        [scope, testCase.kind, testCase.entry])
                let refused = try post(1, [testCase.field])
                XCTAssertEqual(refused.status, 400, "\(testCase.kind) \(String(describing: scope))")
                XCTAssertEqual(refused.json["code"] as? String, "blacklisted")
                XCTAssertEqual(refused.json["parameter"] as? String, testCase.parameter)
                let other = try post(2, [testCase.field])
                XCTAssertEqual(other.status, scope == nil ? 400 : 201, "listing 1's entry does not affect listing 2")
                try sql("DELETE FROM contacts")
            }
        }
    }

    func testFiftyConcurrentPostsOfOneNewEmailCreateExactlyOneContact() throws {
        let all = try concurrentRequests(50) { index in ("POST", [("email", "race@example.com"), ("first_name", "Racer \(index)")]) }
            .map(\.status)
        XCTAssertEqual(all.filter { $0 == 201 }.count, 1, "\(all)")
        XCTAssertEqual(all.filter { $0 == 409 }.count, 49, "\(all)")
        XCTAssertEqual(try contactCount(1), 1)
    }
}


