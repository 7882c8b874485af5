import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Webhook endpoints (API.md §11): added, listed and removed with the `webhooks` scope; a URL
/// that is not http(s), or whose host is or resolves to an internal address, refused.
final class WebhookEndpointTests: ContactsTestCase {
    /// A public address literal: nothing to resolve, nothing internal.
    static let publicURL = "https://93.184.216.34/hooks/crm?x=1"

    func webhooksKey(listings: [Int64] = [1]) throws -> APIKey {
        try createKey(listings: listings, scopes: [.webhooks])
    }

    func endpointsTable() throws -> [String] {
        try textRows("""
            SELECT concat_ws(' ', listing_id, webhook_id, url, array_to_string(events, ','), status, secret)
              FROM webhook_endpoints ORDER BY webhook_id
            """)
    }

    func testAnEndpointIsAddedWithItsSecretShownOnceThenListedAndRemoved() throws {
        let key = try webhooksKey()
        let added = try call("POST", "/crm/1/webhooks", key: key, body: .form([("url", Self.publicURL)]))
        XCTAssertEqual(added.status, 201, added.bodyText)
        let webhook = data(added)["webhook"] as? [String: Any] ?? [:]
        let id = webhook["webhook_id"] as? Int ?? -1
        let secret = webhook["secret"] as? String ?? ""
        XCTAssertNotNil(secret.wholeMatch(of: /whsec_[A-Za-z0-9+\/]{43}=/), secret)
        XCTAssertEqual(webhook["url"] as? String, Self.publicURL)
        XCTAssertEqual(webhook["events"] as? [String], ["contact.created", "contact.updated", "contact.deleted"])
        XCTAssertEqual(webhook["status"] as? String, "active")
        XCTAssertEqual(try endpointsTable(), ["1 \(id) \(Self.publicURL) contact.created,contact.updated,contact.deleted active \(secret)"])

        XCTAssertEqual(try post(1, [("email", "hooked@example.com")]).status, 201)
        let listed = try call("GET", "/crm/1/webhooks", key: key)
        XCTAssertEqual(listed.status, 200)
        XCTAssertFalse(listed.bodyText.contains(secret), "the secret is shown only when added")
        let endpoint = (data(listed)["webhooks"] as? [[String: Any]])?.first ?? [:]
        XCTAssertEqual(endpoint["webhook_id"] as? Int, id)
        XCTAssertEqual(endpoint["pending"] as? Int, 1, "the change committed after it was added")
        XCTAssertTrue(endpoint["last_success_at"] is NSNull && endpoint["last_failure_at"] is NSNull && endpoint["last_error"] is NSNull)

        let removed = try call("DELETE", "/crm/1/webhooks/\(id)", key: key)
        XCTAssertEqual(removed.status, 202)
        XCTAssertEqual(data(removed)["webhook_id"] as? Int, id)
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/\(id)", key: key).status, 404)
        XCTAssertEqual(try endpointsTable(), [])
        let empty = try call("GET", "/crm/1/webhooks", key: key)
        XCTAssertEqual(empty.status, 200)
        XCTAssertEqual((data(empty)["webhooks"] as? [Any])?.count, 0)
    }

    func testEventsAndURLsAreValidatedAndNothingIsStoredForABadOne() throws {
        let key = try webhooksKey()
        let chosen = try call("POST", "/crm/1/webhooks", key: key,
                              body: .form([("url", "http://93.184.216.34:8080/h"), ("events", "contact.deleted, contact.created,contact.deleted")]))
        XCTAssertEqual((data(chosen)["webhook"] as? [String: Any])?["events"] as? [String], ["contact.created", "contact.deleted"])
        let bad: [([(String, String)], String)] = [
            ([("url", Self.publicURL), ("events", "contact.archived")], "events"),
            ([("events", "contact.created")], "url"),
            ([("url", "ftp://93.184.216.34/x")], "url"),
            ([("url", "https://user:pw@93.184.216.34/")], "url"),
            ([("url", "https://[::1")], "url"),
            ([("url", "https://93.184.216.34:0/")], "url"),
            ([("url", "https://93.184.216.34:65536/")], "url"),
            ([("url", "https://exa mple.com/")], "url"),
            ([("url", "https://" + String(repeating: "a", count: 2100) + ".com/")], "url"),
        ]
        let upper = try call("POST", "/crm/1/webhooks", key: key, body: .form([("url", "HTTPS://93.184.216.34/Upper")]))
        XCTAssertEqual(upper.status, 201, upper.bodyText)
        XCTAssertEqual((data(upper)["webhook"] as? [String: Any])?["url"] as? String, "https://93.184.216.34/Upper", "the scheme in lower case")
        for (fields, parameter) in bad {
            let response = try call("POST", "/crm/1/webhooks", key: key, body: .form(fields))
            XCTAssertEqual(response.status, 400, "\(fields)")
            XCTAssertEqual(response.json["parameter"] as? String, parameter, "\(fields)")
        }
        XCTAssertEqual(try endpointsTable().count, 2)
    }

    func testInternalAddressesAreRefused() throws {
        let key = try webhooksKey()
        for url in ["http://127.0.0.1/h", "http://[::1]/h", "http://10.0.0.1/h", "http://169.254.169.254/latest/meta-data",
                    "http://[::ffff:127.0.0.1]/h", "http://localhost:9000/h", "http://192.168.1.1/h", "http://172.16.0.1/h",
                    "http://100.64.0.1/h", "http://0.0.0.0/h", "http://[fe80::1]/h", "http://[fc00::1]/h", "http://224.0.0.1/h",
                    "http://no-such-host.invalid/h"] {
            let response = try call("POST", "/crm/1/webhooks", key: key, body: .form([("url", url)]))
            XCTAssertEqual(response.status, 400, url)
            XCTAssertEqual(response.json["parameter"] as? String, "url", url)
        }
        XCTAssertEqual(try endpointsTable(), [])
    }

    func testTheAddressPolicyJudgesEveryFamilyAndTheOperatorMayAllowPrivate() async {
        func bytes(_ text: String) -> [UInt8] {
            var v4 = in_addr(), v6 = in6_addr()
            if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
            _ = inet_pton(AF_INET6, text, &v6)
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        for inside in ["127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.127.0.1", "0.0.0.0",
                         "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1"] {
            XCTAssertTrue(AddressPolicy.isPrivate(bytes(inside)), inside)
        }
        for inside in ["64:ff9b::a00:1", "2002:7f00:1::", "::ffff:0:10.0.0.1", "fec0::1", "192.0.0.8", "198.19.0.1"] {
            XCTAssertTrue(AddressPolicy.isPrivate(bytes(inside)), inside)
        }
        for outside in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8",
                        "64:ff9b::808:808", "2002:808:808::"] {
            XCTAssertFalse(AddressPolicy.isPrivate(bytes(outside)), outside)
        }
        let refusal = await AddressPolicy(allowsPrivate: false).refusal(host: "127.0.0.1")
        XCTAssertNotNil(refusal)
        let allowed = await AddressPolicy(allowsPrivate: true).refusal(host: "127.0.0.1")
        XCTAssertNil(allowed)
    }

    func testTheWebhooksScopeIsRequiredAndOtherListingsStayHidden() throws {
        let hooks = try webhooksKey(listings: [1])
        let id = (data(try call("POST", "/crm/1/webhooks", key: hooks, body: .form([("url", Self.publicURL)])))["webhook"]
                  as? [String: Any])?["webhook_id"] as? Int ?? -1
        let lacks = #"{"status":"error","code":"forbidden","message":"This API key lacks the webhooks scope.","data":{"scope":"webhooks"}}"#
        XCTAssertEqual(try call("GET", "/crm/1/webhooks", key: keyA).bodyText, lacks)
        XCTAssertEqual(try call("POST", "/crm/1/webhooks", key: keyA, body: .form([("url", "bad")])).bodyText, lacks)
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/\(id)", key: keyA).bodyText, lacks)
        let plain = #"{"status":"error","code":"forbidden","message":"Invalid API key or unauthorized access.","data":{}}"#
        XCTAssertEqual(try call("GET", "/crm/1/webhooks", key: keyB).bodyText, plain)
        XCTAssertEqual(try call("DELETE", "/crm/1/webhooks/\(id)", key: keyB).bodyText, plain)
        XCTAssertEqual(try call("GET", "/crm/1/changes", key: hooks).status, 403, "webhooks alone does not read")
        // Listing 2's view of listing 1's endpoint: none.
        let other = try webhooksKey(listings: [2])
        XCTAssertEqual(try call("DELETE", "/crm/2/webhooks/\(id)", key: other).status, 404)
        XCTAssertEqual(try call("DELETE", "/crm/2/webhooks/x", key: other).json["parameter"] as? String, "webhook_id")
        XCTAssertEqual(try endpointsTable().count, 1)
    }
}
