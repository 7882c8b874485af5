import Codecs
import Glibc
import Outbound

/// One attempt at a delivery (API.md §11): checks the endpoint's address again (the addresses
/// it resolves to now, and connects to those), signs the body with the endpoint's secret
/// (Standard Webhooks headers), POSTs it through libcurl and says how it ended: a `2xx` within
/// the timeout is delivered, a `410` gone, anything else failed (with the receiver's
/// `Retry-After` on a `429` or `503`).
public struct WebhookSender: Sendable {
    public let client: OutboundHTTPClient
    public let addresses: AddressPolicy
    public let timeout: Duration
    /// Unix seconds now (the `webhook-timestamp` of an attempt).
    let now: @Sendable () -> Int64

    public init(client: OutboundHTTPClient, addresses: AddressPolicy, timeout: Duration,
                now: @escaping @Sendable () -> Int64 = { Int64(time(nil)) }) {
        self.client = client
        self.addresses = addresses
        self.timeout = timeout
        self.now = now
    }

    /// Sends `delivery` once; a transfer cut short by the client's shutdown is `released`.
    public func attempt(_ delivery: WebhookQueue.Delivery) async -> WebhookQueue.Outcome {
        let url: WebhookURL
        do {
            url = try WebhookURL(delivery.url)
        } catch {
            return .failed(error: "the endpoint's url is not allowed", retryAfter: nil)
        }
        // One deadline for the attempt, the address lookup included: the lease covers the
        // timeout and a margin, not a lookup that hangs first.
        let started = ContinuousClock.now
        let pins: [String]
        switch await addresses.check(host: url.host, port: url.port, within: timeout) {
        case let .refused(why): return .failed(error: "\(url.host) \(why)", retryAfter: nil)
        case let .allowed(checked): pins = checked
        }
        let left = timeout - (ContinuousClock.now - started)
        guard left > .milliseconds(100) else {
            return .failed(error: "no answer within \(timeout.components.seconds) s", retryAfter: nil)
        }
        let timestamp = now()
        guard let signature = WebhookSignature.sign(secret: delivery.secret, id: delivery.eventID, timestamp: timestamp,
                                                    body: delivery.body) else {
            return .failed(error: "the endpoint's secret is malformed", retryAfter: nil)
        }
        let request = OutboundRequest(url: delivery.url, headers: [
            ("Content-Type", "application/json"), ("User-Agent", "crm-webhooks/2"),
            ("webhook-id", delivery.eventID), ("webhook-timestamp", String(timestamp)), ("webhook-signature", signature),
        ], body: delivery.body, timeout: left, pinnedAddresses: pins)
        do {
            return Self.outcome(of: try await client.send(request))
        } catch let error as OutboundError {
            if error.isAborted { return .released }
            return .failed(error: error.isTimeout ? "no answer within \(timeout.components.seconds) s" : error.message,
                           retryAfter: nil)
        } catch {
            return .failed(error: "\(error)", retryAfter: nil)
        }
    }

    static func outcome(of response: OutboundResponse) -> WebhookQueue.Outcome {
        switch response.status {
        case 200..<300: return .delivered
        case 410: return .gone
        case 429, 503: return .failed(error: "HTTP \(response.status)", retryAfter: response.retryAfter.flatMap(retryAfterSeconds))
        default: return .failed(error: "HTTP \(response.status)", retryAfter: nil)
        }
    }

    /// `Retry-After` in seconds, at most a day; only the delay form (an HTTP date is taken as
    /// no header). Digits past any integer are a day too.
    static func retryAfterSeconds(_ text: String) -> Int? {
        let digits = text.trimming(.spacesAndTabs)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return min(Int(digits) ?? Int.max, 86_400)
    }
}
