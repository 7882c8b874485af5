import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Key scopes (API.md §8): `read` for GET/HEAD, `write` for POST/PUT/DELETE, checked by the
/// SQL that does the work; a key granted the listing is told the scope it lacks, a key not
/// granted it gets the plain `403`.
final class KeyScopeTests: ContactsTestCase {
    static let plainForbidden = #"{"status":"error","code":"forbidden","message":"Invalid API key or unauthorized access.","data":{}}"#

    static func missing(_ scope: String) -> String {
        #"{"status":"error","code":"forbidden","message":"This API key lacks the \#(scope) scope.","data":{"scope":"\#(scope)"}}"#
    }

    func testAReadOnlyKeyReadsButEveryWriteIsRefusedNamingWrite() throws {
        let id = contact(try post(1, [("email", "kept@example.com"), ("first_name", "Kept")]))["contact_id"] as? Int ?? -1
        let reader = try createKey(scopes: [.read])
        let found = try get(1, "id=\(id)", key: reader)
        XCTAssertEqual(found.status, 200)
        XCTAssertEqual((data(found)["results"] as? [[String: Any]])?.first?["contact_first_name"] as? String, "Kept")
        XCTAssertEqual(try call("HEAD", "/crm/1", key: reader).status, 200)
        XCTAssertEqual(try get(1, "email=nobody@example.com", key: reader).status, 404, "granted and may read: an empty search is a 404")

        let before = try contactsTable()
        let writes: [(String, Body)] = [
            ("POST", .form([("email", "new@example.com")])),
            ("PUT", .form([("id", "\(id)"), ("first_name", "Changed")])),
            ("PUT", .form([("email", "kept@example.com"), ("first_name", "Changed")])),
            ("DELETE", .form([("id", "\(id)")])),
            // Parameters the write would refuse: the scope comes first, as the grant does.
            ("POST", .form([("email", "not-an-email")])),
            ("DELETE", .none),
        ]
        for (method, body) in writes {
            let response = try call(method, "/crm/1", key: reader, body: body)
            XCTAssertEqual(response.status, 403, "\(method) \(body)")
            XCTAssertEqual(response.bodyText, Self.missing("write"), "\(method) \(body)")
        }
        XCTAssertEqual(try contactsTable(), before, "nothing written")
    }

    func testAWriteOnlyKeyWritesButCannotRead() throws {
        let writer = try createKey(scopes: [.write])
        let created = try post(1, [("email", "w@example.com")], key: writer)
        XCTAssertEqual(created.status, 201, created.bodyText)
        let id = contact(created)["contact_id"] as? Int ?? -1
        XCTAssertEqual(try put(1, [("id", "\(id)"), ("first_name", "W")], key: writer).status, 200)
        for query in ["", "id=\(id)", "email=w@example.com", "name=W", "id=nope"] {
            let response = try get(1, query, key: writer)
            XCTAssertEqual(response.status, 403, query)
            XCTAssertEqual(response.bodyText, Self.missing("read"), query)
        }
        let head = try call("HEAD", "/crm/1", key: writer)
        XCTAssertEqual(head.status, 403)
        XCTAssertEqual(try delete(1, [("id", "\(id)")], key: writer).status, 202)
        XCTAssertEqual(try contactCount(1), 0)
    }

    func testAScopeIsNeverNamedForAListingTheKeyIsNotGranted() throws {
        _ = try post(2, [("email", "theirs@example.com")], key: keyB)
        let reader = try createKey(listings: [1], scopes: [.read])
        let webhooksOnly = try createKey(listings: [1], scopes: [.webhooks])
        let attempts: [(APIKey, String, String, Body)] = [
            (reader, "POST", "/crm/2", .form([("email", "x@example.com")])),
            (reader, "POST", "/crm/2", .form([("email", "bad")])),
            (reader, "GET", "/crm/2", .none),
            (reader, "GET", "/crm/999", .none),
            (webhooksOnly, "DELETE", "/crm/2", .form([("email", "theirs@example.com")])),
        ]
        for (key, method, target, body) in attempts {
            let response = try call(method, target, key: key, body: body)
            XCTAssertEqual(response.status, 403, "\(method) \(target)")
            XCTAssertEqual(response.bodyText, Self.plainForbidden, "\(method) \(target): nothing about scopes or the listing")
        }
        // Granted listing 1 with neither read nor write: both named there.
        XCTAssertEqual(try get(1, key: webhooksOnly).bodyText, Self.missing("read"))
        XCTAssertEqual(try post(1, [("email", "x@example.com")], key: webhooksOnly).bodyText, Self.missing("write"))
        XCTAssertEqual(try contactCount(), 1)
    }

    func testARevokedScopedKeyGetsThePlainRefusal() throws {
        let reader = try createKey(scopes: [.read])
        XCTAssertEqual(try get(1, key: reader).status, 404)
        try sql("UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1::bytea", [PostgresBytes(reader.digest)])
        // Within the gate's cached second the operation's SQL refuses it; after, the gate does.
        XCTAssertEqual(try post(1, [("email", "x@example.com")], key: reader).bodyText, Self.plainForbidden)
    }

    func testAMissingScopeIsNotCountedAsARefusedAuthentication() throws {
        let reader = try createKey(scopes: [.read])
        let before = try metric("crm_auth_refused_total")
        for index in 0..<3 {
            XCTAssertEqual(try post(1, [("email", "r\(index)@example.com")], key: reader).status, 403)
        }
        XCTAssertEqual(try metric("crm_auth_refused_total"), before, "a live, granted key lacking a scope is no failed login")
        XCTAssertEqual(try call("POST", "/crm/2", key: reader, body: .form([("email", "x@example.com")])).status, 403)
        XCTAssertEqual(try metric("crm_auth_refused_total"), before + 1, "a key without the grant is")
    }

    func testScopesAreStoredWithTheKeyAndCheckedBySQL() throws {
        let database = self.database!
        let webhooks = try createKey(scopes: [.webhooks, .read, .webhooks])
        let rows: [String] = try blocking {
            let connection = try await database.connect()
            // A key inserted without scopes, as every writer before sql/010 did: read and write.
            try await connection.query("""
                INSERT INTO api_keys (key_hash, key_prefix) VALUES (sha256('legacy'), 'crm_legacy')
                """)
            let rows = try await connection.query("""
                SELECT key_prefix || ':' || array_to_string(scopes, ',') FROM api_keys ORDER BY key_id
                """).rows.map { try $0.decode(String.self, column: 0) }
            await connection.close()
            return rows
        }
        XCTAssertEqual(rows.last, "crm_legacy:read,write")
        XCTAssertTrue(rows.contains("\(webhooks.prefix):read,webhooks"), "\(rows)")
        XCTAssertTrue(rows.contains("\(keyA.prefix):read,write"), "\(rows)")

        // The column refuses what is not a set of known scopes.
        for (value, sqlState) in [("{}", "23514"), ("{read,NULL}", "23514"), ("{admin}", "22P02")] {
            XCTAssertThrowsError(try sql("UPDATE api_keys SET scopes = $1::crm_key_scope[] WHERE key_prefix = 'crm_legacy'", [value]),
                                 value) { error in
                XCTAssertEqual((error as? PostgresError)?.sqlState?.code, sqlState, "\(value): \(error)")
            }
        }
        XCTAssertThrowsError(try sql("UPDATE api_keys SET scopes = NULL WHERE key_prefix = 'crm_legacy'")) { error in
            XCTAssertEqual((error as? PostgresError)?.sqlState?.code, "23502")
        }

        // The write functions check the scope themselves, whoever calls them.
        let outcome: String = try blocking {
            let connection = try await database.connect()
            let outcome = try await connection.query("""
                SELECT outcome::text FROM crm_api_create($1::bytea, 1, NULL, NULL, 'sql@example.com', NULL, NULL)
                """, [PostgresBytes(webhooks.digest)])[0].decode(String.self, column: 0)
            await connection.close()
            return outcome
        }
        XCTAssertEqual(outcome, "forbidden")
        XCTAssertEqual(try contactCount(), 0)
    }
}
