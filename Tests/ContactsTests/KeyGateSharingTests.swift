import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Item 1 of the review: requests that wait for another's lookup of the same key share what
/// it found, and nothing that belongs to the caller who ran it.
final class KeyLookupSharingTests: ContactsTestCase {
    /// A database error in a lookup that five requests waited for: all five get its `503`, and
    /// `crm_db_errors_total` counts it once, as readiness counts a failed ping once.
    func testAnErrorOfALookupManyRequestsWaitedForIsCountedOnce() throws {
        let holder = try lockKeyTable()
        let requests = (0..<5).map { _ in PendingRequest(port: server.port, "GET", "/crm/1", key: keyA) }
        let gate = keys!
        try waitUntil("4 requests waiting for the first one's lookup", timeout: .seconds(10)) {
            gate.statistics.waitingForLookups == 4
        }
        XCTAssertEqual(gate.statistics.lookups, 1)
        try waitForLockWaiters(1)
        // The lookup fails in the database: its statement is cancelled (SQLSTATE 57014).
        try sql("""
            SELECT pg_cancel_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
            """)
        for request in requests {
            let response = try request.answer()
            XCTAssertEqual(response.status, 503, response.bodyText)
            XCTAssertEqual(response.header("Retry-After"), "1")
            XCTAssertEqual(response.json["code"] as? String, "unavailable")
        }
        XCTAssertEqual(gate.statistics.lookups, 1, "one lookup answered all five")
        XCTAssertEqual(try metric(#"crm_db_errors_total{class="57"}"#), 1, "counted once, not once per request")
        XCTAssertEqual(gate.databaseErrors.snapshot, ["57": 1])
        XCTAssertEqual(application.api.databaseErrors.snapshot, [:], "and not again by the service")
        try unlockKeyTable(holder)
        XCTAssertEqual(try get(1).status, 404)
        XCTAssertEqual(try metric(#"crm_db_errors_total{class="57"}"#), 1)
    }
}

/// Item 1 of the review, with refused authentications limited to 1 a second per address: an
/// address out of them is refused before it may wait for anyone's lookup.
final class KeyLookupSharingThrottleTests: ContactsTestCase {
    override var authFailureRate: Int { 1 }

    /// 127.0.0.1 looks a new key up (held in the database by a lock); ::1, out of refused
    /// authentications, asks for the same key meanwhile. It gets its own `429` at once, as it
    /// would had nobody else been asking: not a free ride on 127.0.0.1's lookup.
    func testAnAddressOutOfRefusalsDoesNotJoinAnotherAddresssLookup() throws {
        let fresh = try createKeys(1)[0]
        let holder = try lockKeyTable()
        let leader = PendingRequest(port: server.port, "GET", "/crm/1", key: fresh)
        let gate = keys!
        try waitUntil("127.0.0.1's lookup in flight", timeout: .seconds(10)) { gate.statistics.lookups == 1 }
        gate.refused(client: "::1")

        let started = Date()
        let refused = try PendingRequest(port: server.port, "GET", "/crm/1", key: fresh, host: "::1").answer(timeout: 3)
        XCTAssertEqual(refused.status, 429, refused.bodyText)
        XCTAssertEqual(refused.json["message"] as? String, "Too many refused authentications from this address; retry after 1 s.")
        XCTAssertEqual(refused.header("Retry-After"), "1")
        XCTAssertLessThan(Date().timeIntervalSince(started), 3, "answered without waiting for the lookup")
        XCTAssertEqual(gate.statistics.waitingForLookups, 0)
        XCTAssertEqual(gate.statistics.lookups, 1)

        try unlockKeyTable(holder)
        XCTAssertEqual(try leader.answer().status, 404, "127.0.0.1's lookup found the key live")
        XCTAssertEqual(try metric("crm_auth_throttled_total"), 1)
    }
}

/// Item 4 of the review: once the table of addresses is full of buckets still counting, the
/// addresses it cannot track share one overflow bucket; that bucket empty, their keys are still
/// looked up, and only a key that is not live is refused. Two addresses tracked, 1 refusal a
/// second each; the gate is asked directly, for addresses a test cannot connect from.
final class RefusedAuthenticationOverflowTests: ContactsTestCase {
    override var keyGateSettings: ApplicationConfiguration.KeyGateSettings {
        .init(authFailureRate: 1, addressCapacity: 2)
    }

    func testALiveKeyIsNeverRefusedBecauseOfOtherAddressesRefusals() async throws {
        let fresh = try createKeys(1)[0]
        let gate = keys!
        // The table full of empty buckets, and the overflow bucket emptied by a third address.
        for address in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] { gate.refused(client: address) }
        XCTAssertEqual(gate.statistics.trackedAddresses, 2)

        let live = try await gate.admit(keyHash: fresh.digest, client: "198.51.100.7")
        XCTAssertEqual(live, .admitted(nil), "looked up and served, the overflow bucket empty or not")
        XCTAssertEqual(gate.statistics.lookups, 1)

        let made = try await gate.admit(keyHash: APIKey.generate().digest, client: "198.51.100.8")
        guard case .throttled(let decision) = made else { return XCTFail("a made-up key from an untracked address: \(made)") }
        XCTAssertEqual(decision.retryAfterSeconds, 1)
        XCTAssertEqual(gate.statistics.lookups, 2, "it was looked up, then refused")
        XCTAssertEqual(gate.statistics.trackedAddresses, 2)
    }
}
