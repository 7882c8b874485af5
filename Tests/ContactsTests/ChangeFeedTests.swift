import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// The change feed (API.md §10): every committed change, written by the database, read in a
/// gap-free order whatever order writers commit in.
final class ChangeFeedTests: ContactsTestCase {
    /// One page of `/crm/{listing}/changes`: (status, events, next_after).
    func changes(_ listing: Int64 = 1, after: String? = nil, limit: Int? = nil,
                 key: APIKey? = nil) throws -> (Int, [[String: Any]], String?) {
        var query: [String] = []
        if let after { query.append("after=\(after)") }
        if let limit { query.append("limit=\(limit)") }
        let response = try call("GET", "/crm/\(listing)/changes" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")),
                                key: key ?? keyFor(listing))
        return (response.status, data(response)["results"] as? [[String: Any]] ?? [], data(response)["next_after"] as? String)
    }

    /// Every event after `after`, following next_after page by page.
    func drain(_ listing: Int64 = 1, after: String? = nil, limit: Int = 100) throws -> ([[String: Any]], String?) {
        var events: [[String: Any]] = []
        var cursor = after
        while true {
            let (status, page, next) = try changes(listing, after: cursor, limit: limit)
            XCTAssertEqual(status, 200)
            events += page
            cursor = next
            if page.count < limit { return (events, cursor) }
        }
    }

    func testEveryWriteIsOneEventWithItsActorAndTheContactAsItIsNow() throws {
        let created = try call("POST", "/crm/1", key: keyA, body: .form([("email", "feed@example.com"), ("first_name", "Feed")]),
                               headers: [("X-Request-Id", "req-create")])
        let id = contact(created)["contact_id"] as? Int ?? -1
        XCTAssertEqual(try put(1, [("id", "\(id)"), ("first_name", "Fed"), ("phone", "15550007777")]).status, 200)
        XCTAssertEqual(try put(1, [("id", "\(id)"), ("first_name", "Fed")]).status, 200, "no value changes: no event")
        let other = contact(try post(1, [("email", "gone@example.com")]))["contact_id"] as? Int ?? -1
        XCTAssertEqual(try delete(1, [("id", "\(other)")]).status, 202)
        try sql("UPDATE contacts SET last_name = 'Sql' WHERE contact_id = $1::bigint", [id])

        let (events, next) = try drain()
        XCTAssertEqual(events.map { $0["type"] as? String }, ["contact.created", "contact.updated", "contact.created",
                                                              "contact.deleted", "contact.updated"])
        XCTAssertEqual(events.map { $0["contact_id"] as? Int }, [id, id, other, other, id])
        XCTAssertEqual(events.map { $0["changed"] as? [String] }, [[], ["first_name", "phone"], [], [], ["last_name"]])
        let first = events[0]
        XCTAssertEqual((first["actor"] as? [String: Any])?["key_prefix"] as? String, keyA.prefix)
        XCTAssertEqual((first["actor"] as? [String: Any])?["request_id"] as? String, "req-create")
        XCTAssertTrue((first["event_id"] as? String)?.hasPrefix("evt_") == true)
        XCTAssertNotNil((first["occurred_at"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/))
        let now = first["contact"] as? [String: Any]
        XCTAssertEqual(now?["contact_last_name"] as? String, "Sql", "the contact as it is now")
        XCTAssertTrue(events[3]["contact"] is NSNull, "deleted since: null")
        let plain = events[4]["actor"] as? [String: Any]
        XCTAssertTrue(plain?["key_prefix"] is NSNull && plain?["request_id"] is NSNull, "plain SQL has no actor")
        XCTAssertEqual(Set(events.compactMap { $0["event_id"] as? String }).count, 5)

        // From next_after: nothing new, an empty 200 with a cursor to poll from.
        let (status, empty, again) = try changes(after: next)
        XCTAssertEqual(status, 200)
        XCTAssertEqual(empty.count, 0)
        XCTAssertNotNil(again)
        XCTAssertEqual(try post(1, [("email", "later@example.com")]).status, 201)
        let (_, later, _) = try changes(after: again)
        XCTAssertEqual(later.map { $0["type"] as? String }, ["contact.created"])
        // Another listing's changes are not in this feed.
        XCTAssertEqual(try post(2, [("email", "two@example.com")]).status, 201)
        XCTAssertEqual(try drain().0.count, 6)
        XCTAssertEqual(try drain(2).0.count, 1)
    }

    func testPlainSQLMovesAndTruncationsAreChangesToo() throws {
        let id = contact(try post(1, [("email", "moved@example.com")]))["contact_id"] as? Int ?? -1
        try sql("INSERT INTO listings (listing_id) VALUES (3) ON CONFLICT DO NOTHING")
        if TestDatabase.isCitus {
            // Citus refuses to change a row's distribution column: no move to record.
            XCTAssertThrowsError(try sql("UPDATE contacts SET listing_id = 2 WHERE contact_id = $1::bigint", [id]))
            _ = try post(1, [("email", "kept@example.com")])
            try sql("TRUNCATE contacts")
            XCTAssertEqual(try drain(1).0.map { $0["type"] as? String },
                           ["contact.created", "contact.created", "contact.deleted", "contact.deleted"])
            XCTAssertEqual(try drain(2).0.count, 0)
            return
        }
        try sql("UPDATE contacts SET listing_id = 2 WHERE contact_id = $1::bigint", [id])
        XCTAssertEqual(try drain(1).0.map { $0["type"] as? String }, ["contact.created", "contact.deleted"])
        XCTAssertEqual(try drain(2).0.map { $0["type"] as? String }, ["contact.created"])
        _ = try post(1, [("email", "kept@example.com")])
        try sql("TRUNCATE contacts")
        XCTAssertEqual(try drain(1).0.map { $0["type"] as? String }, ["contact.created", "contact.deleted", "contact.created", "contact.deleted"])
        XCTAssertEqual(try drain(2).0.map { $0["type"] as? String }, ["contact.created", "contact.deleted"])
    }

    func testPagesFollowEachOtherWithoutGapsOrRepeats() throws {
        for index in 0..<7 { XCTAssertEqual(try post(1, [("email", "p\(index)@example.com")]).status, 201) }
        let (all, _) = try drain(limit: 100)
        let (paged, _) = try drain(limit: 2)
        XCTAssertEqual(paged.compactMap { $0["event_id"] as? String }, all.compactMap { $0["event_id"] as? String })
        XCTAssertEqual(all.count, 7)
    }

    /// Writers commit in an order other than their start; a reader polls in between. Each
    /// committed insert is seen exactly once, a rolled-back one never (25 random rounds).
    func testEveryCommittedChangeIsSeenExactlyOnceUnderOutOfOrderCommits() throws {
        var generator = SeededGenerator(seed: 20_261_202)
        let database = self.database!
        var cursor: String?
        var seen: [Int] = []
        var committed: Set<Int> = []
        func poll() throws {
            let (events, next) = try drain(after: cursor, limit: 3)
            seen += events.compactMap { $0["contact_id"] as? Int }
            cursor = next
        }
        for round in 0..<25 {
            let writers = Int.random(in: 2...4, using: &generator)
            var connections: [PostgresConnection] = []
            var ids: [Int] = []
            for index in 0..<writers {
                let email = "r\(round)w\(index)@example.com"
                let (connection, id) = try blocking {
                    let connection = try await database.connect(applicationName: "writer")
                    try await connection.simpleQuery("BEGIN")
                    let id = try await connection.query("INSERT INTO contacts (listing_id, email) VALUES (1, $1) RETURNING contact_id",
                                                        [email])[0].decode(Int.self, column: 0)
                    return (connection, id)
                }
                connections.append(connection)
                ids.append(id)
                if Bool.random(using: &generator) { try poll() }
            }
            let rolledBack = Int.random(in: 0..<(writers + 2), using: &generator)  // at times none
            for position in (0..<writers).shuffled(using: &generator) {
                let connection = connections[position]
                let commit = position != rolledBack
                try blocking {
                    try await connection.simpleQuery(commit ? "COMMIT" : "ROLLBACK")
                    await connection.close()
                }
                if commit { committed.insert(ids[position]) }
                if Bool.random(using: &generator) { try poll() }
            }
        }
        try poll()
        XCTAssertEqual(seen.count, Set(seen).count, "no event twice")
        XCTAssertEqual(Set(seen), committed, "every committed insert, no rolled-back one")
        XCTAssertGreaterThan(committed.count, 40)
    }

    func testACursorMustBeThisListingsAndALimitInRange() throws {
        _ = try post(1, [("email", "c@example.com")])
        let (_, _, next) = try changes()
        let foreign = try XCTUnwrap(next).replacingOccurrences(of: "1-", with: "2-", options: .anchored)
        for after in ["abc", "1-2", "1-x-3", "-1-2-3", foreign, "1-99999999999999999999-1", "1-999999999999-0"] {
            let response = try call("GET", "/crm/1/changes?after=\(after)", key: keyA)
            XCTAssertEqual(response.status, 400, after)
            XCTAssertEqual(response.json["parameter"] as? String, "after", after)
        }
        for limit in ["0", "1001", "x"] {
            XCTAssertEqual(try call("GET", "/crm/1/changes?limit=\(limit)", key: keyA).json["parameter"] as? String, "limit")
        }
        XCTAssertEqual(try call("GET", "/crm/1/changes?after=abc", key: keyB).status, 403, "who asks comes first")
        XCTAssertEqual(try call("GET", "/crm/2/changes", key: keyA).bodyText,
                       #"{"status":"error","code":"forbidden","message":"Invalid API key or unauthorized access.","data":{}}"#)
        let writer = try createKey(scopes: [.write])
        XCTAssertEqual(try call("GET", "/crm/1/changes", key: writer).json["message"] as? String, "This API key lacks the read scope.")
        XCTAssertEqual(try call("HEAD", "/crm/1/changes", key: keyA).status, 200)
    }

    func testACursorOlderThanWhatIsKeptIs410() async throws {
        for index in 0..<4 { _ = try post(1, [("email", "old\(index)@example.com")]) }
        let (_, first, afterFirst) = try changes(limit: 1)
        XCTAssertEqual(first.count, 1)
        try sql("UPDATE contact_changes SET occurred_at = now() - interval '8 days' WHERE contact_id <= (SELECT min(contact_id) + 1 FROM contacts)")
        let purged = try await RetentionPurger.changes(pool: pool, days: 7, batchSize: 1).purgeExpired()
        XCTAssertEqual(purged, 2)
        let expired = try call("GET", "/crm/1/changes?after=\(afterFirst ?? "")", key: keyA)
        XCTAssertEqual(expired.status, 410)
        XCTAssertEqual(expired.json["code"] as? String, "cursor_expired")
        let (status, kept, next) = try changes()
        XCTAssertEqual(status, 200, "without a cursor: from the oldest kept")
        XCTAssertEqual(kept.count, 2)
        XCTAssertEqual(try changes(after: next).0, 200, "a cursor past the purge is fine")
    }
}
