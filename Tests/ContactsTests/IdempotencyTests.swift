import Contacts
import Dispatch
import Foundation
import Postgres
import Synchronization
import TestSupport
import XCTest

/// `Idempotency-Key` on POST (API.md §9): the first answer is stored in the transaction of
/// its write and replayed to the same request; another request with the key is a `422`; one
/// arriving while the first runs is a `409` with `Retry-After`; refusals are not stored.
final class IdempotencyTests: ContactsTestCase {
    func postWithKey(_ idempotencyKey: String, _ body: Body, listing: Int64 = 1, key: APIKey? = nil,
                     query: String = "") throws -> RawHTTPClient.Response {
        try call("POST", "/crm/\(listing)" + (query.isEmpty ? "" : "?" + query), key: key ?? keyFor(listing), body: body,
                 headers: [("Idempotency-Key", idempotencyKey)])
    }

    /// The stored answers: "idempotency_key outcome contact_id payload", by key.
    func storedAnswers() throws -> [String] {
        try textRows("""
            SELECT idempotency_key || ' ' || outcome || ' ' || coalesce(contact_id::text, '-') || ' ' || coalesce(payload::text, '-')
              FROM idempotency_keys ORDER BY idempotency_key
            """)
    }

    func testTheSameRequestAgainGetsTheStoredAnswerAndWritesNothing() throws {
        let first = try postWithKey("order-1", .form([("email", "Ann@Example.com"), ("first_name", " Ann "), ("last_name", "")]))
        XCTAssertEqual(first.status, 201, first.bodyText)
        XCTAssertNil(first.header("Idempotent-Replayed"))
        let id = contact(first)["contact_id"] as? Int ?? -1
        let stored = try storedAnswers()
        XCTAssertEqual(stored.count, 1)
        XCTAssertTrue(stored.first?.hasPrefix("order-1 created \(id) {") == true, "\(stored)")

        // The same parameters in another order, another body type, trimmed, an empty one left out.
        let retries: [(Body, String)] = [
            (.form([("email", "Ann@Example.com"), ("first_name", " Ann "), ("last_name", "")]), ""),
            (.form([("first_name", "Ann"), ("email", "Ann@Example.com")]), ""),
            (.json(#"{"first_name": "Ann", "last_name": null, "email": "Ann@Example.com"}"#), ""),
            (.multipart([("email", "Ann@Example.com")]), "first_name=Ann"),
        ]
        for (body, query) in retries {
            let again = try postWithKey("order-1", body, query: query)
            XCTAssertEqual(again.status, 201, "\(body)")
            XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
            XCTAssertEqual(again.bodyText, first.bodyText, "the stored body, byte for byte")
        }
        XCTAssertEqual(try contactCount(1), 1, "one contact")
        XCTAssertEqual(try storedAnswers().count, 1)
        // Keys are case-sensitive: another key is another request.
        XCTAssertEqual(try postWithKey("ORDER-1", .form([("email", "Ann@Example.com")])).status, 409)
    }

    func testTheKeyWithAnotherRequestIs422AndChangesNothing() throws {
        XCTAssertEqual(try postWithKey("k", .form([("email", "a@example.com")]), key: keyAB).status, 201)
        let before = try contactsTable()
        let others: [(Int64, Body)] = [
            (1, .form([("email", "b@example.com")])),
            (1, .form([("email", "a@example.com"), ("first_name", "A")])),
            (2, .form([("email", "a@example.com")])),
        ]
        for (listing, body) in others {
            let response = try postWithKey("k", body, listing: listing, key: keyAB)
            XCTAssertEqual(response.status, 422, "\(listing) \(body): \(response.bodyText)")
            XCTAssertEqual(response.json["code"] as? String, "idempotency_key_reused")
            XCTAssertNil(response.header("Idempotent-Replayed"))
        }
        XCTAssertEqual(try contactsTable(), before)
        // Unknown names are ignored (API.md §2), in the fingerprint too: a cache-buster is the same request.
        let busted = try postWithKey("k", .form([("email", "a@example.com"), ("_", "123")]), key: keyAB)
        XCTAssertEqual(busted.status, 201)
        XCTAssertEqual(busted.header("Idempotent-Replayed"), "true")
        // The same key string of another API key is that key's own.
        XCTAssertEqual(try postWithKey("k", .form([("email", "a@example.com")]), key: keyA).status, 409,
                       "keyA's own first use: a duplicate of keyAB's contact")
    }

    func testADuplicateIsStoredAndReplayedEvenAfterTheHolderIsDeleted() throws {
        let holder = contact(try post(1, [("email", "dup@example.com")]))["contact_id"] as? Int ?? -1
        let first = try postWithKey("dup-1", .form([("email", "dup@example.com")]))
        XCTAssertEqual(first.status, 409)
        XCTAssertEqual(data(first)["contact_id"] as? Int, holder)
        XCTAssertEqual(try delete(1, [("id", "\(holder)")]).status, 202)
        let again = try postWithKey("dup-1", .form([("email", "dup@example.com")]))
        XCTAssertEqual(again.status, 409, "the stored answer, not a new create")
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(again.bodyText, first.bodyText)
        XCTAssertEqual(try contactCount(1), 0)
    }

    func testAReplayAfterTheContactIsDeletedKeepsOnlyItsID() throws {
        let first = try postWithKey("gone", .form([("email", "gone@example.com"), ("first_name", "Gone"), ("phone", "15550001111")]))
        let id = contact(first)["contact_id"] as? Int ?? -1
        XCTAssertEqual(try delete(1, [("id", "\(id)")]).status, 202)
        XCTAssertEqual(try storedAnswers(), [#"gone created \#(id) {"contact_id":\#(id)}"#], "no personal data kept")
        let again = try postWithKey("gone", .form([("email", "gone@example.com"), ("first_name", "Gone"), ("phone", "15550001111")]))
        XCTAssertEqual(again.status, 201)
        XCTAssertEqual(again.json["message"] as? String, "New contact successfully created.")
        XCTAssertEqual(contact(again).count, 1)
        XCTAssertEqual(contact(again)["contact_id"] as? Int, id)
        XCTAssertEqual(again.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(try contactCount(1), 0, "the replay wrote nothing")
        // Deleted by plain SQL, too.
        let other = contact(try postWithKey("sql", .form([("email", "sql@example.com")])))["contact_id"] as? Int ?? -1
        try sql("DELETE FROM contacts WHERE contact_id = $1::bigint", [other])
        XCTAssertFalse(try storedAnswers().joined().contains("sql@example.com"))
    }

    func testRefusalsAreNotStoredAndTheKeyStaysFree() throws {
        try sql("INSERT INTO blacklist_entries (listing_id, kind, value) VALUES (NULL, 'email', 'blocked@example.com')")
        let blacklisted = try postWithKey("retry", .form([("email", "blocked@example.com")]))
        XCTAssertEqual(blacklisted.status, 400)
        XCTAssertEqual(blacklisted.json["code"] as? String, "blacklisted")
        let invalid = try postWithKey("retry", .form([("email", "not-an-email")]))
        XCTAssertEqual(invalid.status, 400)
        XCTAssertEqual(invalid.json["parameter"] as? String, "email")
        let unsupported = try call("POST", "/crm/1", key: keyA, body: .raw(contentType: "text/plain", bytes: Array("x".utf8)),
                                   headers: [("Idempotency-Key", "retry")])
        XCTAssertEqual(unsupported.status, 415)
        let forbidden = try postWithKey("retry", .form([("email", "x@example.com")]), listing: 2, key: keyA)
        XCTAssertEqual(forbidden.status, 403)
        // A key granted the listing without the write scope: refused before it ran, not stored.
        let reader = try createKey(scopes: [.read])
        let readOnly = try postWithKey("retry", .form([("email", "fixed@example.com")]), key: reader)
        XCTAssertEqual(readOnly.status, 403)
        XCTAssertEqual(readOnly.json["message"] as? String, "This API key lacks the write scope.")
        XCTAssertEqual(try storedAnswers(), [])
        let corrected = try postWithKey("retry", .form([("email", "fixed@example.com")]))
        XCTAssertEqual(corrected.status, 201, "the key was still free")
        XCTAssertNil(corrected.header("Idempotent-Replayed"))
    }

    func testAMalformedKeyIs400NamingTheHeaderAndWritesNothing() throws {
        let malformed = ["", String(repeating: "k", count: 256), "caf\u{e9}", "tab\there"]
        for value in malformed {
            let response = try postWithKey(value, .form([("email", "m@example.com")]))
            XCTAssertEqual(response.status, 400, "\(value.debugDescription): \(response.bodyText)")
            XCTAssertEqual(response.json["code"] as? String, "invalid_parameter")
            XCTAssertEqual(response.json["parameter"] as? String, "Idempotency-Key")
        }
        let twice = try call("POST", "/crm/1", key: keyA, body: .form([("email", "m@example.com")]),
                             headers: [("Idempotency-Key", "a"), ("Idempotency-Key", "b")])
        XCTAssertEqual(twice.status, 400)
        XCTAssertEqual(twice.json["parameter"] as? String, "Idempotency-Key")
        // Who asks comes first: a key without the grant learns nothing about the header.
        let ungranted = try postWithKey("", .form([("email", "m@example.com")]), listing: 2, key: keyA)
        XCTAssertEqual(ungranted.status, 403)
        XCTAssertEqual(try contactCount(), 0)
        XCTAssertEqual(try storedAnswers(), [])
        // 255 printable characters, space included, are a key.
        let longest = String(repeating: "~ ", count: 127) + "!"
        XCTAssertEqual(try postWithKey(longest, .form([("email", "m@example.com")])).status, 201)
        XCTAssertEqual(try storedAnswers().count, 1)
    }

    func testAKeyStillBeingProcessedIs409WithRetryAfter() throws {
        let database = self.database!, key = keyA!
        // Another session holds the lock the first request with ("busy") holds while it runs
        // (on Citus, on the worker the request's function runs on).
        let holder = try blocking { try await database.connectToListingNode(1, applicationName: "in-flight") }
        defer { try? blocking { await holder.close() } }
        _ = try blocking {
            try await holder.query("""
                SELECT pg_advisory_lock(crm_idempotency_lock_id(key_id, 'busy')) FROM api_keys WHERE key_hash = $1::bytea
                """, [PostgresBytes(key.digest)])
        }
        let busy = try postWithKey("busy", .form([("email", "busy@example.com")]))
        XCTAssertEqual(busy.status, 409)
        XCTAssertEqual(busy.json["code"] as? String, "idempotency_key_in_flight")
        XCTAssertEqual(busy.header("Retry-After"), "1")
        XCTAssertEqual(try contactCount(), 0)
        _ = try blocking { try await holder.query("SELECT pg_advisory_unlock_all()") }
        XCTAssertEqual(try postWithKey("busy", .form([("email", "busy@example.com")])).status, 201)
    }

    func testConcurrentIdenticalRequestsCreateOneContact() throws {
        let port = server.port, key = keyA!
        for round in 0..<5 {
            let statuses = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                let response = try? Self.call(port: port, "POST", "/crm/1", key: key,
                                              body: .form([("email", "race\(round)@example.com")]),
                                              headers: [("Idempotency-Key", "race-\(round)")])
                let label = response.map {
                    "\($0.status)\($0.header("Idempotent-Replayed") == "true" ? " replayed" : "")"
                        + ($0.status == 409 ? " \($0.json["code"] as? String ?? "?")" : "")
                } ?? "failed"
                statuses.withLock { $0.append(label) }
            }
            let seen = statuses.withLock { $0 }
            XCTAssertEqual(seen.filter { $0 == "201" }.count, 1, "round \(round): one request ran: \(seen)")
            XCTAssertTrue(seen.allSatisfy { ["201", "201 replayed", "409 idempotency_key_in_flight"].contains($0) },
                          "round \(round): \(seen)")
            XCTAssertEqual(try contactCount(1), round + 1, "round \(round): one row")
        }
        XCTAssertEqual(try contactCount(1), 5)
        XCTAssertEqual(try storedAnswers().count, 5)
    }

    func testTruncatingContactsLeavesStoredAnswersTheIDOnly() throws {
        let id = contact(try postWithKey("t", .form([("email", "trunc@example.com"), ("first_name", "Trunc")])))["contact_id"] as? Int ?? -1
        try sql("TRUNCATE contacts")
        XCTAssertEqual(try storedAnswers(), [#"t created \#(id) {"contact_id":\#(id)}"#])
    }

    func testIdempotencyKeyIsIgnoredOnPutAndDelete() throws {
        XCTAssertEqual(try call("PUT", "/crm/1", key: keyA, body: .form([("email", "p@example.com")]),
                                headers: [("Idempotency-Key", "")]).status, 201, "not looked at")
        XCTAssertEqual(try storedAnswers(), [])
    }

    func testAnswersOlderThan24HoursArePurgedInBatches() async throws {
        let database = self.database!
        for index in 0..<5 {
            _ = try postWithKey("p\(index)", .form([("email", "p\(index)@example.com")]))
        }
        try sql("UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE idempotency_key IN ('p0', 'p1', 'p2')")
        let purger = RetentionPurger.idempotencyKeys(pool: pool, batchSize: 2)
        let purged = try await purger.purgeExpired()
        XCTAssertEqual(purged, 3)
        let left = try await { () async throws -> [String] in
            let connection = try await database.connect()
            let rows = try await connection.query("SELECT idempotency_key FROM idempotency_keys ORDER BY 1").rows
                .map { try $0.decode(String.self, column: 0) }
            await connection.close()
            return rows
        }()
        XCTAssertEqual(left, ["p3", "p4"])
        let again = try await purger.purgeExpired()
        XCTAssertEqual(again, 0)
    }
}
