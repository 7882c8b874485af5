import Contacts
import Foundation
import HTTP
import Postgres
import Reactor
import TestSupport
import XCTest

/// Two `crm serve` processes (two applications) on one database share the deliveries, and
/// in normal operation each event reaches the receiver once (API.md §11).
final class WebhookSharingTests: ContactsTestCase {
    override var webhookSettings: WebhookSettings { WebhookSettings(workers: 4, pollInterval: .milliseconds(200)) }
    override var webhookAllowPrivate: Bool { true }

    func testTwoProcessesShareTheQueueAndSendEachEventOnce() async throws {
        let receiver = try WebhookReceiver { number in
            try? await Task.sleep(for: .milliseconds(number % 7))
            return HTTPResponse(status: 204)
        }
        let (other, otherLoops) = try startSecondApplication(name: "other-process")
        let port = server.port, otherPort = other.server.port
        let key = try createKey(scopes: [.webhooks, .write])
        let added = try call("POST", "/crm/1/webhooks", key: key, body: .form([("url", receiver.url)]))
        XCTAssertEqual(added.status, 201, added.bodyText)
        for n in 0..<120 {
            let response = try Self.call(port: n % 2 == 0 ? port : otherPort, "POST", "/crm/1", key: key,
                                         body: .form([("email", "shared\(n)@example.com")]))
            XCTAssertEqual(response.status, 201)
        }
        let all = try receiver.waitFor(120, timeout: .seconds(20))
        try await Task.sleep(for: .seconds(1))
        XCTAssertEqual(receiver.deliveries.count, 120, "no event sent twice")
        XCTAssertEqual(Set(all.map(\.id)).count, 120)
        try await waitUntil("both processes' outcomes recorded", observe: {
            application.webhooks.statistics.deliveries("delivered") + other.webhooks.statistics.deliveries("delivered")
        }) { $0 == 120 }
        XCTAssertEqual(try textRows("SELECT count(*)::text FROM webhook_deliveries"), ["0"])
        await stop(other, loops: otherLoops)
        await receiver.stop()
    }
}

/// The address check at delivery (API.md §11, SSRF): an endpoint that points at a loopback
/// address (stored behind the API's back) is not called without `--webhook-allow-private`.
final class WebhookAddressCheckTests: ContactsTestCase {
    override var webhookSettings: WebhookSettings {
        WebhookSettings(workers: 1, retrySchedule: [60], pollInterval: .milliseconds(200))
    }

    func testADeliveryToALoopbackAddressIsRefusedAtSendingTime() async throws {
        let receiver = try WebhookReceiver()
        try sql("INSERT INTO webhook_endpoints (listing_id, url, events, secret) VALUES (1, $1, '{contact.created}', $2)",
                [receiver.url, WebhookStore.newSecret()])
        XCTAssertEqual(try post(1, [("email", "ssrf@example.com")]).status, 201)
        let state = try await waitUntil("the attempt recorded", timeout: .seconds(10), observe: {
            try textRows("SELECT coalesce(last_error, '-') || ' ' || status FROM webhook_endpoints")
        }) { $0 != ["- active"] }
        XCTAssertEqual(state, ["127.0.0.1 resolves to 127.0.0.1, a loopback, private or otherwise internal address active"])
        XCTAssertEqual(receiver.deliveries.count, 0)
        XCTAssertEqual(try textRows("SELECT attempts::text FROM webhook_deliveries"), ["1"], "retried later on the schedule")
        await receiver.stop()
    }
}

/// `LISTEN`/`NOTIFY` (API.md §11): a process that only serves the API (`--webhook-workers 0`)
/// wakes the dispatcher of another process after its writes, long before that one's poll.
final class WebhookWakeTests: ContactsTestCase {
    func testAWriteInOneProcessWakesTheDispatcherOfAnotherByNotify() async throws {
        let receiver = try WebhookReceiver()
        let (delivering, deliveringLoops) = try startSecondApplication(
            name: "delivering-process", webhooks: WebhookSettings(workers: 2, pollInterval: .seconds(120)))
        // Its first exchange found no endpoint; from here on only a NOTIFY can wake it in time.
        try await Task.sleep(for: .milliseconds(500))
        try sql("INSERT INTO webhook_endpoints (listing_id, url, events, secret) VALUES (1, $1, '{contact.created}', $2)",
                [receiver.url, WebhookStore.newSecret()])
        XCTAssertEqual(try post(1, [("email", "notified@example.com")]).status, 201)
        let arrived = try receiver.waitFor(1, timeout: .seconds(10))
        XCTAssertEqual(arrived[0].type, "contact.created")
        XCTAssertEqual(application.webhooks.statistics.deliveries("delivered"), 0, "the API process sends none")
        await stop(delivering, loops: deliveringLoops)
        await receiver.stop()
    }
}

extension ContactsTestCase {
    /// Another "process" on the test's database: the same configuration (without the test's
    /// response recorder), its own pool, loop and port, webhooks as given (default: the test's),
    /// loopback receivers allowed. Stop it with ``stop(_:loops:)``.
    func startSecondApplication(name: String, webhooks: WebhookSettings? = nil) throws -> (CRMApplication, [EventLoop]) {
        var configuration = application.configuration
        configuration.outerMiddleware = []
        configuration.protocolErrorObserver = nil
        configuration.webhooks = webhooks ?? configuration.webhooks
        configuration.webhookAllowPrivate = true
        let loops = [EventLoop(name: name)]
        let second = CRMApplication(configuration: configuration, loops: loops)
        try second.start()
        return (second, loops)
    }

    func stop(_ second: CRMApplication, loops: [EventLoop]) async {
        await second.stopServing(gracePeriod: .seconds(1))
        await second.pool.shutdown()
        loops.forEach { $0.shutdown() }
    }
}
