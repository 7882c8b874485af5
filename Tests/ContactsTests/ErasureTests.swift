import Contacts
import Crypto
import Foundation
import Postgres
import TestSupport
import XCTest

/// Erasure (API.md §13): `DELETE …&erase=true` deletes and suppresses the contact's email and
/// phone in the listing, stored only as SHA-256, enforced by the blacklist trigger for every
/// writer.
final class ErasureTests: ContactsTestCase {
    static func hex(_ text: String) -> String {
        SHA256.hash(Array(text.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
    }

    /// "kind value listing" of every blacklist entry.
    func blacklist() throws -> [String] {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect()
            let rows = try await AdminStore(connection: connection).listBlacklist(listing: nil)
            await connection.close()
            return rows.map { "\($0.kind.rawValue) \($0.value) \($0.listing.map(String.init) ?? "global")" }
        }
    }

    func testEraseDeletesAndSuppressesTheEmailAndThePhoneInTheListing() throws {
        let id = contact(try post(1, [("email", "Erin@Example.com"), ("phone", "+1 555 000 2222")]))["contact_id"] as? Int ?? -1
        let erased = try call("DELETE", "/crm/1?email=erin@example.com&erase=true", key: keyA)
        XCTAssertEqual(erased.status, 202, erased.bodyText)
        XCTAssertEqual(data(erased)["contact_ids"] as? [Int], [id])
        XCTAssertEqual(try contactCount(1), 0)
        XCTAssertEqual(try blacklist().sorted(), [
            "email-sha256 \(Self.hex("erin@example.com")) 1",
            "phone-sha256 \(Self.hex("15550002222")) 1",
        ], "both, whichever identified it; hashed, never in clear")

        let refused: [(String, [(String, String)], String)] = [
            ("POST", [("email", "ERIN@example.com")], "email"),
            ("POST", [("phone", "15550002222")], "phone"),
            ("PUT", [("email", "erin@example.com"), ("first_name", "Back")], "email"),
            ("POST", [("email", "other@example.com"), ("phone", "+1 (555) 000-2222"), ("ip_address", "10.0.0.1")], "phone"),
        ]
        for (method, fields, parameter) in refused {
            let response = try call(method, "/crm/1", key: keyA, body: .form(fields))
            XCTAssertEqual(response.status, 400, "\(method) \(fields)")
            XCTAssertEqual(response.json["code"] as? String, "blacklisted")
            XCTAssertEqual(response.json["parameter"] as? String, parameter)
        }
        let other = contact(try post(1, [("email", "other@example.com")]))["contact_id"] as? Int ?? -1
        XCTAssertEqual(try put(1, [("id", "\(other)"), ("phone", "15550002222")]).json["code"] as? String, "blacklisted",
                       "an update to an erased phone")
        XCTAssertThrowsError(try sql("INSERT INTO contacts (listing_id, email) VALUES (1, 'erin@EXAMPLE.com')"), "plain SQL too") {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState?.code, "CRMBL")
            // A worker's error reaches a Citus coordinator without its column field.
            XCTAssertEqual(($0 as? PostgresError)?.column, TestDatabase.isCitus ? nil : "email")
        }
        XCTAssertEqual(try post(2, [("email", "erin@example.com"), ("phone", "15550002222")]).status, 201, "another listing is not affected")
        XCTAssertEqual(try contactCount(1), 1)

        // Lifted by the operator (as `crm blacklist remove --email-sha256 H --listing 1` does).
        let database = self.database!
        let lifted = try blocking {
            let connection = try await database.connect()
            let entry = try AdminStore.BlacklistEntry.normalized(kind: .emailSHA256, value: Self.hex("erin@example.com").uppercased(), listing: 1)
            let removed = try await AdminStore(connection: connection).removeBlacklistEntry(entry)
            await connection.close()
            return removed
        }
        XCTAssertTrue(lifted)
        XCTAssertEqual(try post(1, [("email", "erin@example.com")]).status, 201)
    }

    func testEraseTakesTrueOrFalseOnly() throws {
        let id = contact(try post(1, [("email", "flag@example.com")]))["contact_id"] as? Int ?? -1
        for value in ["yes", "TRUE", "1", "truee"] {
            let response = try call("DELETE", "/crm/1?id=\(id)&erase=\(value)", key: keyA)
            XCTAssertEqual(response.status, 400, value)
            XCTAssertEqual(response.json["parameter"] as? String, "erase", value)
            XCTAssertEqual(response.json["message"] as? String, "erase must be true or false.")
        }
        XCTAssertEqual(try contactCount(1), 1, "nothing deleted")
        XCTAssertEqual(try call("DELETE", "/crm/1?id=\(id)&erase=false", key: keyA).status, 202)
        XCTAssertEqual(try blacklist(), [], "a plain delete suppresses nothing")
        let again = contact(try post(1, [("email", "flag@example.com")]))["contact_id"] as? Int ?? -1
        XCTAssertEqual(try call("DELETE", "/crm/1", key: keyA, body: .form([("id", "\(again)"), ("erase", "")])).status, 202,
                       "empty counts as absent")
        XCTAssertEqual(try blacklist(), [])
        XCTAssertEqual(try call("DELETE", "/crm/1", key: keyA, body: .json(#"{"email": "x@example.com", "erase": "maybe"}"#)).status, 400)
    }

    func testNothingMatchedIs404AndSuppressesNothing() throws {
        _ = try post(1, [("email", "keep@example.com"), ("phone", "15550003333")])
        let response = try call("DELETE", "/crm/1?email=keep@example.com&phone=15550009999&erase=true", key: keyA)
        XCTAssertEqual(response.status, 404)
        XCTAssertEqual(try blacklist(), [])
        XCTAssertEqual(try contactCount(1), 1)
        // A key without the write scope, or without the grant, erases nothing.
        XCTAssertEqual(try call("DELETE", "/crm/1?email=keep@example.com&erase=true", key: keyB).status, 403)
        let reader = try createKey(scopes: [.read])
        let readOnly = try call("DELETE", "/crm/1?email=keep@example.com&erase=true", key: reader)
        XCTAssertEqual(readOnly.status, 403)
        XCTAssertEqual(readOnly.json["message"] as? String, "This API key lacks the write scope.")
        XCTAssertEqual(try contactCount(1), 1)
        XCTAssertEqual(try blacklist(), [])
    }

    /// The window a one-transaction erasure would leave: a writer that checked the blacklist
    /// before the erasure committed would wait on the unique index for its delete, then insert
    /// the erased address. Suppression first, in its own transaction (sql/012): such a writer
    /// meets the live contact (`23505` at once).
    func testAWriterRacingAnErasureMeetsTheContactOrItsSuppression() throws {
        let id = contact(try post(1, [("email", "race@example.com")]))["contact_id"] as? Int ?? -1
        let database = self.database!, key = keyA!
        let code: String? = try blocking {
            let eraser = try await database.connect(applicationName: "eraser")
            let writer = try await database.connect(applicationName: "writer")
            // The erasure's first step, still open.
            try await eraser.simpleQuery("BEGIN")
            try await eraser.query("SELECT * FROM crm_api_suppress($1::bytea, 1, $2::bigint, NULL, NULL)", [PostgresBytes(key.digest), id])
            var code: String?
            do {
                try await writer.query("INSERT INTO contacts (listing_id, email) VALUES (1, 'RACE@example.com')")
            } catch let error as PostgresError {
                code = error.sqlState?.code
            }
            try await eraser.simpleQuery("COMMIT")
            await eraser.close()
            await writer.close()
            return code
        }
        XCTAssertEqual(code, "23505", "the contact is still there: a duplicate, without waiting")
        XCTAssertEqual(try call("DELETE", "/crm/1?id=\(id)&erase=true", key: keyA).status, 202)
        XCTAssertThrowsError(try sql("INSERT INTO contacts (listing_id, email) VALUES (1, 'RACE@example.com')")) {
            XCTAssertEqual(($0 as? PostgresError)?.sqlState?.code, "CRMBL")
        }
        XCTAssertEqual(try contactCount(1), 0)
    }

    func testNoTableKeepsAnErasedContactInClear() throws {
        let email = "Zelda.Erased@Example.org", phone = "15557770123", name = "Zeldaerased"
        let created = try call("POST", "/crm/1", key: keyA, body: .form([("email", email), ("phone", phone), ("first_name", name)]),
                               headers: [("Idempotency-Key", "erase-me")])
        XCTAssertEqual(created.status, 201)
        let id = contact(created)["contact_id"] as? Int ?? -1
        XCTAssertEqual(try put(1, [("id", "\(id)"), ("last_name", name)]).status, 200)
        XCTAssertEqual(try call("DELETE", "/crm/1?id=\(id)&erase=true", key: keyA).status, 202)

        let database = self.database!
        let found: [String] = try blocking {
            let connection = try await database.connect()
            let columns = try await connection.query("""
                SELECT c.table_name, c.column_name FROM information_schema.columns c
                  JOIN information_schema.tables t USING (table_schema, table_name)
                 WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
                """).rows.map { (try $0.decode(String.self, column: 0), try $0.decode(String.self, column: 1)) }
            var found: [String] = []
            for (table, column) in columns {
                for needle in [email.lowercased(), phone, name.lowercased()] {
                    let count = try await connection.query(
                        "SELECT count(*) FROM \(table) WHERE lower(\(column)::text) LIKE '%' || $1 || '%'", [needle]
                    )[0].decode(Int.self, column: 0)
                    if count > 0 { found.append("\(table).\(column) holds \(needle)") }
                }
            }
            await connection.close()
            return found
        }
        XCTAssertEqual(found, [], "every column of every table scanned")
        // The stored answer still replays, with the id only.
        let replay = try call("POST", "/crm/1", key: keyA, body: .form([("email", email), ("phone", phone), ("first_name", name)]),
                              headers: [("Idempotency-Key", "erase-me")])
        XCTAssertEqual(replay.status, 201)
        XCTAssertEqual(replay.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(contact(replay).keys.sorted(), ["contact_id"])
    }
}

private extension String {
    func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
