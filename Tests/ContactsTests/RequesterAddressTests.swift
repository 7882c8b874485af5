import Contacts
import Foundation
import TestSupport
import XCTest

/// Refused authentications are counted by the address our outermost trusted proxy saw (the
/// rightmost `X-Forwarded-For` entry no trusted proxy wrote), not by the first entry, which the
/// client chooses: rotating made-up first entries earns no fresh allowance. Contacts still
/// record the first entry (API.md §3).
final class RequesterAddressTests: ContactsTestCase {
    override var authFailureRate: Int { 3 }
    /// The test client (127.0.0.1) plays an inner balancer behind an outer one at 10.0.0.2.
    override var trustedProxies: Set<String> { ["127.0.0.1", "10.0.0.2"] }

    private func get(key: APIKey, forwardedFor: String) throws -> RawHTTPClient.Response {
        try call("GET", "/crm/1", key: key, headers: [("X-Forwarded-For", forwardedFor)])
    }

    func testMadeUpFirstEntriesShareTheAllowanceOfTheAddressTheProxiesSaw() throws {
        for index in 0..<3 {
            let response = try get(key: APIKey.generate(), forwardedFor: "203.0.113.\(index + 1), 198.51.100.9, 10.0.0.2")
            XCTAssertEqual(response.status, 403, "refusal \(index + 1) of 3 for 198.51.100.9")
        }
        let fourth = try get(key: APIKey.generate(), forwardedFor: "203.0.113.99, 198.51.100.9, 10.0.0.2")
        XCTAssertEqual(fourth.status, 429, "a new first entry is no new client: \(fourth.bodyText)")
        XCTAssertEqual(fourth.json["code"] as? String, "rate_limited")
        XCTAssertEqual(fourth.header("Retry-After"), "1")
        let other = try get(key: APIKey.generate(), forwardedFor: "203.0.113.99, 198.51.100.10, 10.0.0.2")
        XCTAssertEqual(other.status, 403, "another address the proxies saw has its own allowance")
    }

    func testAnUnparsableEntryStopsTheWalkAtTheLastTrustedProxy() throws {
        // Everything left of a non-address is the client's own writing: the requester is then
        // the proxy that appended the entry after it (10.0.0.2), whatever the client put there.
        for index in 0..<3 {
            XCTAssertEqual(try get(key: APIKey.generate(), forwardedFor: "198.51.100.\(index + 20), junk, 10.0.0.2").status, 403)
        }
        XCTAssertEqual(try get(key: APIKey.generate(), forwardedFor: "198.51.100.30, junk, 10.0.0.2").status, 429)
    }

    func testContactsStillRecordTheFirstEntry() throws {
        let created = try call("POST", "/crm/1", key: keyA, body: .form([("email", "first@example.com")]),
                               headers: [("X-Forwarded-For", "203.0.113.7, 198.51.100.9, 10.0.0.2")])
        XCTAssertEqual(created.status, 201)
        XCTAssertEqual(contact(created)["contact_ip_address"] as? String, "203.0.113.7")
    }
}
