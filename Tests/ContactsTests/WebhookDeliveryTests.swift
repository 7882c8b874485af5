import Contacts
import Foundation
import HTTP
import Postgres
import TestSupport
import XCTest

/// Webhook delivery (API.md §11) to a receiver on loopback: every committed change once, signed
/// (checked by the `standardwebhooks` package), with the contact as it is when sent; failures
/// retried on a short test schedule, `Retry-After` honoured, `410` disabling the endpoint, the
/// last retry dropping the event, and at most the per-endpoint cap in flight.
final class WebhookDeliveryTests: ContactsTestCase {
    override var webhookSettings: WebhookSettings {
        WebhookSettings(workers: 6, retrySchedule: [1, 1], timeout: .seconds(1), perEndpointConcurrency: 3,
                        pollInterval: .milliseconds(200))
    }
    override var webhookAllowPrivate: Bool { true }

    var receivers: [WebhookReceiver] = []

    override func tearDown() async throws {
        await application?.webhooks.stop(gracePeriod: .seconds(2))
        for receiver in receivers { await receiver.stop() }
        try await super.tearDown()
    }

    func receiver(_ answer: @escaping WebhookReceiver.Answer = { _ in HTTPResponse(status: 204) }) throws -> WebhookReceiver {
        let receiver = try WebhookReceiver(answer: answer)
        receivers.append(receiver)
        return receiver
    }

    /// Adds an endpoint for `receiver` through the API; returns its id and secret.
    func addEndpoint(_ receiver: WebhookReceiver, listing: Int64 = 1) throws -> (id: Int, secret: String) {
        let key = try createKey(listings: [listing], scopes: [.webhooks])
        let added = try call("POST", "/crm/\(listing)/webhooks", key: key, body: .form([("url", receiver.url)]))
        XCTAssertEqual(added.status, 201, added.bodyText)
        let webhook = data(added)["webhook"] as? [String: Any] ?? [:]
        return (webhook["webhook_id"] as? Int ?? -1, webhook["secret"] as? String ?? "")
    }

    func endpointState(_ id: Int) throws -> String {
        try textRows("""
            SELECT concat_ws(' ', status, last_success_at IS NOT NULL, last_failure_at IS NOT NULL, coalesce(last_error, '-'),
                             (SELECT count(*) FROM webhook_deliveries d WHERE d.listing_id = w.listing_id AND d.webhook_id = w.webhook_id))
              FROM webhook_endpoints w WHERE webhook_id = $1::bigint
            """, [id]).first ?? "gone"
    }

    func testEachCommittedChangeIsDeliveredOnceSignedWithTheContactAsItIsWhenSent() throws {
        let receiver = try receiver()
        let endpoint = try addEndpoint(receiver)
        let created = try post(1, [("first_name", "Ada"), ("email", "ada@example.com")])
        XCTAssertEqual(created.status, 201)
        let id = contact(created)["contact_id"] as? Int ?? -1
        let first = try receiver.waitFor(1)[0]
        XCTAssertEqual(first.type, "contact.created")
        XCTAssertEqual(first.contentType, "application/json")
        XCTAssertEqual(first.data["listing_id"] as? Int, 1)
        XCTAssertEqual(first.data["contact_id"] as? Int, id)
        XCTAssertEqual(first.data["changed"] as? [String], [])
        XCTAssertEqual(first.id, first.data["event_id"] as? String)
        XCTAssertEqual((first.data["contact"] as? [String: Any])?["contact_first_name"] as? String, "Ada")
        XCTAssertNotNil((first.json["timestamp"] as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/))

        XCTAssertEqual(try put(1, [("id", "\(id)"), ("first_name", "Augusta")]).status, 200)
        let second = try receiver.waitFor(2)[1]
        XCTAssertEqual(second.type, "contact.updated")
        XCTAssertEqual(second.data["changed"] as? [String], ["first_name"])
        XCTAssertEqual((second.data["contact"] as? [String: Any])?["contact_first_name"] as? String, "Augusta")

        XCTAssertEqual(try delete(1, [("id", "\(id)")]).status, 202)
        let third = try receiver.waitFor(3)[2]
        XCTAssertEqual(third.type, "contact.deleted")
        XCTAssertTrue(third.data["contact"] is NSNull, third.body)
        XCTAssertFalse(third.body.contains("ada@example.com"))

        // Plain SQL: a rolled-back change is never delivered, a committed one is (the poll finds it).
        try sql("""
            DO $$ BEGIN
              INSERT INTO contacts (listing_id, email) VALUES (1, 'rolled-back@example.com');
              RAISE EXCEPTION 'roll back';
            EXCEPTION WHEN raise_exception THEN NULL; END $$
            """)
        try sql("INSERT INTO contacts (listing_id, email) VALUES (1, 'committed@example.com')")
        let all = try receiver.waitFor(4)
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertEqual(receiver.deliveries.count, 4, "\(receiver.deliveries)")
        XCTAssertEqual(Set(all.map(\.id)).count, 4)
        XCTAssertEqual(all[3].type, "contact.created")
        XCTAssertEqual((all[3].data["contact"] as? [String: Any])?["contact_email"] as? String, "committed@example.com")
        XCTAssertEqual(try WebhookReceiver.validSignatures(all, secret: endpoint.secret), 4)
        try waitUntil("the last outcome recorded", observe: { try endpointState(endpoint.id) }) { $0 == "active t f - 0" }
        XCTAssertEqual(try metric(#"crm_webhook_deliveries_total{outcome="delivered"}"#), 4)
        let listed = try call("GET", "/crm/1/webhooks", key: try createKey(scopes: [.webhooks]))
        XCTAssertEqual((data(listed)["webhooks"] as? [[String: Any]])?.first?["pending"] as? Int, 0)
    }

    func testA500IsRetriedOnTheScheduleAndA410DisablesTheEndpointAtOnce() throws {
        let receiver = try receiver { number in HTTPResponse(status: number == 0 ? 500 : 410) }
        let endpoint = try addEndpoint(receiver)
        XCTAssertEqual(try post(1, [("email", "retry@example.com")]).status, 201)
        let attempts = try receiver.waitFor(2)
        XCTAssertEqual(attempts[0].id, attempts[1].id, "the same webhook-id on every attempt")
        let gap = attempts[1].arrived - attempts[0].arrived
        XCTAssertGreaterThanOrEqual(gap, .milliseconds(850), "retried after the schedule's 1 s (±10 %)")
        try waitUntil("the endpoint disabled", observe: { try endpointState(endpoint.id) }) { $0 == "disabled f t HTTP 410 0" }
        XCTAssertEqual(try post(1, [("email", "after@example.com")]).status, 201)
        Thread.sleep(forTimeInterval: 1)
        XCTAssertEqual(receiver.deliveries.count, 2, "a disabled endpoint gets nothing")
        XCTAssertEqual(try metric(#"crm_webhook_deliveries_total{outcome="retrying"}"#), 1)
        XCTAssertEqual(try metric(#"crm_webhook_deliveries_total{outcome="disabled"}"#), 1)
        let listed = try call("GET", "/crm/1/webhooks", key: try createKey(scopes: [.webhooks]))
        XCTAssertEqual((data(listed)["webhooks"] as? [[String: Any]])?.first?["status"] as? String, "disabled")
    }

    func testAnEndpointThatHasFailedEveryAttemptForFiveDaysIsDisabledAtItsNextFailure() throws {
        let receiver = try receiver { _ in HTTPResponse(status: 502) }
        let endpoint = try addEndpoint(receiver)
        try sql("UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE webhook_id = $1::bigint",
                [endpoint.id])
        XCTAssertEqual(try post(1, [("email", "five-days@example.com")]).status, 201)
        try receiver.waitFor(1)
        try waitUntil("disabled", observe: { try endpointState(endpoint.id) }) { $0 == "disabled f t HTTP 502 0" }
        XCTAssertEqual(try metric(#"crm_webhook_deliveries_total{outcome="disabled"}"#), 1)
    }

    func testAReceiverThatHangsPastTheTimeoutIsTriedAgain() throws {
        let receiver = try receiver { number in
            if number == 0 { try? await Task.sleep(for: .seconds(3)) }
            return HTTPResponse(status: 200)
        }
        let endpoint = try addEndpoint(receiver)
        XCTAssertEqual(try post(1, [("email", "slow@example.com")]).status, 201)
        let attempts = try receiver.waitFor(2)
        XCTAssertGreaterThanOrEqual(attempts[1].arrived - attempts[0].arrived, .milliseconds(1850), "the 1 s timeout, then 1 s ±10 %")
        try waitUntil("delivered", observe: { try endpointState(endpoint.id) }) { $0 == "active t t no answer within 1 s 0" }
    }

    func testRetryAfterOnA429IsHonouredInsteadOfTheSchedule() throws {
        let receiver = try receiver { number in
            var headers = HTTPHeaders()
            headers.add("Retry-After", "2")
            return number == 0 ? HTTPResponse(status: 429, headers: headers) : HTTPResponse(status: 204)
        }
        let endpoint = try addEndpoint(receiver)
        XCTAssertEqual(try post(1, [("email", "busy@example.com")]).status, 201)
        let attempts = try receiver.waitFor(2)
        XCTAssertGreaterThanOrEqual(attempts[1].arrived - attempts[0].arrived, .milliseconds(1950), "Retry-After: 2, not the schedule's 1 s")
        try waitUntil("delivered", observe: { try endpointState(endpoint.id) }) { $0 == "active t t HTTP 429 0" }
    }

    func testWhenTheLastRetryFailsTheEventIsDroppedForThatEndpoint() throws {
        let receiver = try receiver { _ in HTTPResponse(status: 500) }
        let endpoint = try addEndpoint(receiver)
        XCTAssertEqual(try post(1, [("email", "dropped@example.com")]).status, 201)
        try receiver.waitFor(3)
        try waitUntil("dropped", observe: { try endpointState(endpoint.id) }) { $0 == "active f t HTTP 500 0" }
        Thread.sleep(forTimeInterval: 1.5)
        XCTAssertEqual(receiver.deliveries.count, 3, "the first attempt and the schedule's two retries")
        XCTAssertEqual(try metric(#"crm_webhook_deliveries_total{outcome="dropped"}"#), 1)
        XCTAssertEqual(try textRows("SELECT count(*)::text FROM contact_changes WHERE listing_id = 1"), ["1"], "the feed keeps it")
    }

    func testADeliveryLeasedByAProcessThatDiedIsSentOnceItsLeaseExpires() throws {
        let receiver = try receiver()
        let endpoint = try addEndpoint(receiver)
        // What a process killed mid-delivery leaves: a leased delivery nobody will record.
        try sql("""
            INSERT INTO webhook_deliveries (webhook_id, event_seq, listing_id, change_type, contact_id, occurred_at,
                                            lease_id, leased_until)
            VALUES ($1::bigint, 424242, 1, 'contact.created', 77, now(), -1, now() + interval '1.5 seconds')
            """, [endpoint.id])
        let leased = ContinuousClock.now
        let first = try receiver.waitFor(1)[0]
        XCTAssertEqual(first.id, "evt_424242")
        XCTAssertGreaterThanOrEqual(first.arrived - leased, .milliseconds(1400), "not before the lease expired")
        XCTAssertTrue(first.data["contact"] is NSNull, "no such contact (any more)")
        try waitUntil("delivered", observe: { try endpointState(endpoint.id) }) { $0 == "active t f - 0" }
        XCTAssertEqual(receiver.deliveries.count, 1)
    }

    func testNoMoreThanTheCapIsInFlightToOneEndpoint() throws {
        let receiver = try receiver { _ in
            try? await Task.sleep(for: .milliseconds(300))
            return HTTPResponse(status: 204)
        }
        _ = try addEndpoint(receiver)
        for n in 0..<12 { XCTAssertEqual(try post(1, [("email", "cap\(n)@example.com")]).status, 201) }
        let all = try receiver.waitFor(12)
        XCTAssertEqual(Set(all.map(\.id)).count, 12)
        XCTAssertEqual(receiver.mostAtOnce, 3, "the cap, with 6 workers free")
    }
}
