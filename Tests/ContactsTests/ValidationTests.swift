import Foundation
import Postgres
import TestSupport
import XCTest

/// The validation table (API.md §2), row by row: good values pass, bad ones are a 400 naming
/// the parameter and write nothing — on every method.
final class ValidationTests: ContactsTestCase {
    private func assertRejected(_ response: RawHTTPClient.Response, parameter: String, _ label: String,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(response.status, 400, label, file: file, line: line)
        XCTAssertEqual(response.json["status"] as? String, "error", label, file: file, line: line)
        XCTAssertEqual(response.json["parameter"] as? String, parameter, label, file: file, line: line)
        XCTAssertFalse((response.json["message"] as? String ?? "").isEmpty, label, file: file, line: line)
    }

    func testEachParameterRuleOnCreate() throws {
        let long = String(repeating: "x", count: 101)
        let rows: [(parameter: String, value: String, valid: Bool)] = [
            ("first_name", String(repeating: "é", count: 100), true),
            ("first_name", long, false),
            ("first_name", "Tab\there", false),
            ("first_name", "Null\u{0}byte", false),
            ("first_name", "C1\u{85}control", false),
            ("last_name", "O'Brien-Smith 😀", true),
            ("last_name", long, false),
            ("email", "plus+tag@sub.example.co.uk", true),
            ("email", "ünïcode@exämple.com", true),
            ("email", "no-at.example.com", false),
            ("email", "two@@example.com", false),
            ("email", "a@b@example.com", false),
            ("email", "@example.com", false),
            ("email", "nodot@localhost", false),
            ("email", "dot@.example.com", false),
            ("email", "sp ace@example.com", false),
            ("email", String(repeating: "l", count: 65) + "@example.com", false),
            ("email", String(repeating: "l", count: 64) + "@example.com", true),
            ("email", "a@" + String(repeating: "d", count: 250) + ".com", false),
            ("phone", "+1 (555) 123-4567", true),
            ("phone", "555.123.4567", true),
            ("phone", "1234567", true),
            ("phone", "123456", false),
            ("phone", "1234567890123456", false),
            ("phone", "555-CALL-NOW", false),
            ("phone", "1+5551234567", false),
            ("first_name", "Line\u{2028}separator", false),
            ("phone", "5551234\u{301}567", false),
            ("email", "x@\u{301}y@example.com", false),
            ("email", "x@example\u{301}.com", true),
            ("ip_address", "2001:db8::1", true),
            ("ip_address", "1.2.3.4\u{0}junk", false),
            ("ip_address", "10.0.0.256", false),
            ("ip_address", "not-an-ip", false),
        ]
        for (index, row) in rows.enumerated() {
            var fields = [(row.parameter, row.value)]
            if row.parameter != "email" { fields.append(("email", "row\(index)@example.com")) }
            let response = try post(1, fields)
            if row.valid {
                XCTAssertEqual(response.status, 201, "\(row.parameter)=\(row.value): \(response.bodyText)")
            } else {
                assertRejected(response, parameter: row.parameter, "\(row.parameter)=\(row.value)")
            }
        }
        XCTAssertEqual(try contactCount(), rows.filter(\.valid).count, "rejected rows wrote nothing")
    }

    func testFiltersAreValidatedOnGetAndDeleteToo() throws {
        let rows = [("id", "0"), ("id", "-5"), ("id", "9223372036854775808"), ("id", "12abc"), ("email", "nope"),
                    ("phone", "12"), ("limit", "0"), ("limit", "1001"), ("after", "-1"), ("first_name", String(repeating: "n", count: 101))]
        for (parameter, value) in rows {
            let query = ContactsTestCase.formEncode([(parameter, value)])
            assertRejected(try get(1, query), parameter: parameter, "GET \(parameter)=\(value)")
            if ["id", "email", "phone"].contains(parameter) {
                assertRejected(try delete(1, [(parameter, value)]), parameter: parameter, "DELETE \(parameter)=\(value)")
                assertRejected(try put(1, [(parameter, value)]), parameter: parameter, "PUT \(parameter)=\(value)")
            }
        }
        XCTAssertEqual(try get(1, "id=9223372036854775807").status, 404, "the largest id is valid")
    }

    func testTheListingIDMustBeAPositive64BitNumber() throws {
        for listing in ["0", "-1", "abc", "9223372036854775808", "1.5", "1%2F2"] {
            let response = try call("GET", "/crm/\(listing)", key: keyA)
            assertRejected(response, parameter: "listing_id", listing)
        }
    }

    func testANameGivenTwiceMustHaveOneValue() throws {
        let conflicting = try call("POST", "/crm/1?email=a%40example.com", key: keyA, body: .form([("email", "b@example.com")]))
        assertRejected(conflicting, parameter: "email", "query and body disagree")
        let sameTwice = try call("POST", "/crm/1?email=a%40example.com", key: keyA, body: .form([("email", " a@example.com ")]))
        XCTAssertEqual(sameTwice.status, 201, "the same value twice is fine")
        let jsonTwice = try call("POST", "/crm/1", key: keyA, body: .json(#"{"email":"c@example.com","email":"d@example.com"}"#))
        assertRejected(jsonTwice, parameter: "email", "duplicate JSON member")
        XCTAssertEqual(try contactCount(), 1)
    }

    func testMalformedBodiesAre400() throws {
        let bodies: [(String, String, [UInt8])] = [
            ("body", "application/json", Array("[1,2]".utf8)),
            ("body", "application/json", Array(#"{"email": "a@b.co""#.utf8)),
            ("body", "application/json", Array(#"{"email": "a@b.co"} trailing"#.utf8)),
            ("email", "application/json", Array(#"{"email": {"nested": 1}}"#.utf8)),
            ("email", "application/json", Array(#"{"email": ["a"]}"#.utf8)),
            ("email", "application/json", Array(#"{"email": true}"#.utf8)),
            ("body", "application/json", [0x7b, 0x22, 0x65, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
            ("body", "application/x-www-form-urlencoded", Array("email=%ZZ".utf8)),
            ("body", "application/x-www-form-urlencoded", Array("email=%C3%28".utf8)),
            ("body", "application/x-www-form-urlencoded", [0x65, 0x3d, 0xc3, 0x28]),
            ("body", "multipart/form-data; boundary=xyz", Array("no boundary here".utf8)),
        ]
        for (parameter, type, bytes) in bodies {
            let response = try call("POST", "/crm/1", key: keyA, body: .raw(contentType: type, bytes: bytes))
            assertRejected(response, parameter: parameter, "\(type): \(String(decoding: bytes, as: UTF8.self))")
        }
        XCTAssertEqual(try contactCount(), 0)
    }

    func testValuesAreTrimmedOfAnyUnicodeWhiteSpaceAndMappedAddressesUnwrapped() throws {
        let response = try post(1, [("first_name", "\u{A0}John\u{3000}"), ("email", "\u{2003}trim@example.com\u{202F}"),
                                    ("ip_address", "::ffff:198.51.100.7")])
        XCTAssertEqual(response.status, 201, response.bodyText)
        XCTAssertEqual(contact(response)["contact_first_name"] as? String, "John")
        XCTAssertEqual(contact(response)["contact_email"] as? String, "trim@example.com")
        XCTAssertEqual(contact(response)["contact_ip_address"] as? String, "198.51.100.7")
    }

    func testANameSearchMayBeAsLongAsAFullName() throws {
        let long = String(repeating: "n", count: 150)
        XCTAssertEqual(try get(1, "name=\(long)").status, 404, "valid, just nothing found")
        XCTAssertEqual(try get(1, "name=" + String(repeating: "n", count: 202)).status, 400)
    }

    func testTheDatabaseRefusesWhatValidationWouldHaveAsA400NotA500() throws {
        // Straight to the SQL function, past the service's validation: a CHECK violation is
        // still reported as the parameter at fault.
        let database = self.database!, key = keyA!
        let outcome = try blocking {
            let connection = try await database.connect()
            let row = try await connection.query(
                "SELECT outcome, payload::text FROM crm_api_create($1::bytea, 1, NULL, NULL, NULL, '12', NULL)",
                [PostgresBytes(key.digest)])[0]
            let result = (try row.decode(String.self, column: 0), try row.decode(String.self, column: 1))
            await connection.close()
            return result
        }
        XCTAssertEqual(outcome.0, "invalid")
        XCTAssertEqual(outcome.1, #""phone""#)
    }

    func testUnknownParametersAreIgnored() throws {
        let response = try post(1, [("email", "ignore@example.com"), ("favourite_colour", "blue"), ("contact_id", "5")])
        XCTAssertEqual(response.status, 201)
    }
}
