import Contacts
import Foundation
import TestSupport
import XCTest

/// Keys and tenancy: a key reaches exactly the listings it is granted.
final class AuthorizationTests: ContactsTestCase {
    func testMissingMalformedUnknownAndRevokedKeysAre403() throws {
        let unknown = APIKey.generate()
        let headers: [[(String, String)]] = [
            [],
            [("Authorization", "Basic dXNlcjpwYXNz")],
            [("Authorization", "Bearer")],
            [("Authorization", "Bearer \(unknown.text)")],
            [("Authorization", "bearer  \(unknown.text)")],
        ]
        for header in headers {
            let response = try call("GET", "/crm/1", key: nil, headers: header)
            XCTAssertEqual(response.status, 403, "\(header)")
            XCTAssertEqual(response.json["code"] as? String, "forbidden")
            XCTAssertEqual(response.json["message"] as? String, "Invalid API key or unauthorized access.")
        }
        let database = self.database!, key = keyA!
        XCTAssertEqual(try post(1, [("email", "before@example.com")]).status, 201)
        let revoked = try blocking {
            let connection = try await database.connect()
            let revoked = try await AdminStore(connection: connection).revokeKey(key)
            await connection.close()
            return revoked
        }
        XCTAssertTrue(revoked)
        XCTAssertEqual(try post(1, [("email", "after@example.com")]).status, 403, "refused from the next request on")
        XCTAssertEqual(try get(1).status, 403)
        XCTAssertEqual(try contactCount(1), 1)
    }

    func testTheSchemeIsCaseInsensitive() throws {
        let response = try call("GET", "/crm/1", key: nil, headers: [("Authorization", "BEARER \(keyA.text)")])
        XCTAssertEqual(response.status, 404, "authorized; the listing is just empty")
    }

    func testAKeyCannotSeeOrChangeAnotherListingEvenByGuessingIDs() throws {
        let theirs = contact(try post(2, [("email", "secret@example.com"), ("phone", "15550000777")]))["contact_id"] as? Int ?? -1
        let before = try contactsTable()
        let attempts: [(String, String, Body)] = [
            ("GET", "/crm/2", .none),
            ("GET", "/crm/2?id=\(theirs)", .none),
            ("POST", "/crm/2", .form([("email", "intruder@example.com")])),
            ("PUT", "/crm/2", .form([("id", "\(theirs)"), ("first_name", "Hacked")])),
            ("DELETE", "/crm/2", .form([("id", "\(theirs)")])),
            ("GET", "/crm/999", .none),
        ]
        for (method, target, body) in attempts {
            let response = try call(method, target, key: keyA, body: body)
            XCTAssertEqual(response.status, 403, "\(method) \(target)")
            XCTAssertFalse(response.bodyText.contains("secret"), "nothing of listing 2 leaks")
        }
        // Through its own listing, guessing listing 2's id finds nothing and changes nothing.
        XCTAssertEqual(try get(1, "id=\(theirs)").status, 404)
        XCTAssertEqual(try delete(1, [("id", "\(theirs)")]).status, 404)
        XCTAssertEqual(try put(1, [("id", "\(theirs)"), ("first_name", "Hacked")]).status, 404)
        XCTAssertEqual(try contactsTable(), before, "listing 2's contact unchanged, nothing created")
    }

    func testAKeyGrantedBothListingsWorksOnBoth() throws {
        XCTAssertEqual(try post(1, [("email", "both1@example.com")], key: keyAB).status, 201)
        XCTAssertEqual(try post(2, [("email", "both2@example.com")], key: keyAB).status, 201)
        XCTAssertEqual(try get(1, key: keyAB).status, 200)
        XCTAssertEqual(try get(2, key: keyB).status, 200)
    }

    func testKeysAreStoredOnlyAsHashesAndNeverEchoed() throws {
        let database = self.database!
        let stored = try blocking {
            let connection = try await database.connect()
            let rows = try await connection.query("SELECT encode(key_hash, 'hex'), key_prefix FROM api_keys ORDER BY key_id").rows
            let values = try rows.map { (try $0.decode(String.self, column: 0), try $0.decode(String.self, column: 1)) }
            let everything = try await connection.query("SELECT string_agg(t::text, ' ') FROM api_keys t")[0].decode(String.self, column: 0)
            await connection.close()
            return (values.map(\.0), values.map(\.1), everything)
        }
        let keys = [keyA!, keyB!, keyAB!]
        XCTAssertEqual(stored.0, keys.map { $0.digest.map { String(format: "%02x", $0) }.joined() }, "SHA-256, same as PostgreSQL's")
        XCTAssertEqual(stored.1, keys.map(\.prefix))
        for key in keys { XCTAssertFalse(stored.2.contains(key.text), "the key itself is nowhere in the table") }
        let response = try call("GET", "/crm/2", key: keyA)
        XCTAssertFalse(response.bodyText.contains(keyA.text))
    }

    func testOurSHA256MatchesPostgreSQLs() throws {
        let database = self.database!
        let inputs = ["", "abc", String(repeating: "a", count: 55), String(repeating: "b", count: 56), String(repeating: "c", count: 1000), "ünïcödé 😀"]
        for input in inputs {
            let expected = try blocking {
                let connection = try await database.connect()
                let hex = try await connection.query("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", [input])[0].decode(String.self, column: 0)
                await connection.close()
                return hex
            }
            XCTAssertEqual(APIKey(input).digest.map { String(format: "%02x", $0) }.joined(), expected, "length \(input.utf8.count)")
        }
    }
}

/// X-Forwarded-For is believed only from a declared proxy.
final class TrustedProxyTests: ContactsTestCase {
    override var trustedProxies: Set<String> { ["127.0.0.1"] }

    func testTheFirstForwardedAddressIsRecordedFromATrustedProxy() throws {
        let forwarded = try call("POST", "/crm/1", key: keyA, body: .form([("email", "xff@example.com")]),
                                 headers: [("X-Forwarded-For", "203.0.113.9, 10.0.0.1")])
        XCTAssertEqual(contact(forwarded)["contact_ip_address"] as? String, "203.0.113.9")
        let explicit = try call("POST", "/crm/1", key: keyA, body: .form([("email", "ip@example.com"), ("ip_address", "198.51.100.4")]),
                                headers: [("X-Forwarded-For", "203.0.113.9")])
        XCTAssertEqual(contact(explicit)["contact_ip_address"] as? String, "198.51.100.4", "the parameter wins")
        let garbage = try call("POST", "/crm/1", key: keyA, body: .form([("email", "junk@example.com")]),
                               headers: [("X-Forwarded-For", "not an address")])
        XCTAssertEqual(contact(garbage)["contact_ip_address"] as? String, "127.0.0.1")
        let fromUntrusted = try call("POST", "/crm/1", key: keyA, body: .form([("email", "v6@example.com")]),
                                     headers: [("X-Forwarded-For", "203.0.113.9")], host: "::1")
        XCTAssertEqual(contact(fromUntrusted)["contact_ip_address"] as? String, "::1")
    }
}
