import Codecs
import Postgres

/// The delivery queue's one statement (sql/015, `crm_webhook_exchange`): record the outcomes of
/// finished deliveries, queue new events, lease due deliveries, all in one short transaction,
/// with each leased delivery's contact as it is now (read by the function, sql/018) to build
/// its payload.
public struct WebhookQueue: Sendable {
    /// A delivery leased to this process: where to send what, and the lease it holds.
    public struct Delivery: Sendable, Equatable {
        public let webhookID: Int64
        public let eventSeq: Int64
        public let leaseID: Int64
        public let url: String
        public let secret: String
        /// The `webhook-id` header and the payload's `event_id`: `evt_<seq>`, as in the change feed.
        public var eventID: String { "evt_\(eventSeq)" }
        /// The JSON body (``WebhookPayload``).
        public let body: [UInt8]
    }

    /// How an attempt ended, as the queue records it.
    public enum Outcome: Sendable, Equatable {
        /// A `2xx` within the timeout.
        case delivered
        /// Anything else that reached (or tried to reach) the receiver: retried on the schedule,
        /// or after `retryAfter` seconds (a `429`/`503` with `Retry-After`, at most a day).
        case failed(error: String, retryAfter: Int?)
        /// `410 Gone`: the endpoint is disabled.
        case gone
        /// Not attempted (the process is stopping): handed back, not counted as an attempt.
        case released
    }

    /// A finished delivery and its outcome.
    public struct Finished: Sendable {
        public let delivery: Delivery
        public let outcome: Outcome

        public init(_ delivery: Delivery, _ outcome: Outcome) {
            self.delivery = delivery
            self.outcome = outcome
        }
    }

    /// What an exchange did: the state each outcome left its delivery in (`delivered`,
    /// `retrying`, `dropped`, `disabled`, `released`, `stale`), the deliveries leased, and
    /// whether any endpoint is active.
    public struct Exchange: Sendable {
        public var recorded: [String] = []
        public var leased: [Delivery] = []
        /// Whether any endpoint is active (none: writes need not wake the dispatcher).
        public var hasActiveEndpoints = true
    }

    public let pool: ConnectionPool
    public let settings: WebhookSettings

    public init(pool: ConnectionPool, settings: WebhookSettings) {
        self.pool = pool
        self.settings = settings
    }

    static let exchange = PreparedStatement(name: "crm_webhook_exchange", sql: """
        SELECT x.kind, x.webhook_id, x.event_seq, x.lease_id, x.state, x.url, x.secret, x.listing_id,
               x.change_type::text, x.contact_id, array_to_string(x.changed, ','),
               to_char(x.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               \(ContactColumns.selectList)
          FROM crm_webhook_exchange($1::jsonb, $2::int[], $3::int, $4::int, make_interval(secs => $5::double precision), $6::int) x
         CROSS JOIN LATERAL (SELECT (x.contact).*) c
        """)

    /// The columns before the contact's.
    static let deliveryColumns = 12

    /// Records `finished` and leases at most `slots` due deliveries.
    public func exchange(_ finished: [Finished], slots: Int) async throws -> Exchange {
        let schedule = "{" + settings.retrySchedule.map(String.init).joined(separator: ",") + "}"
        let rows = try await pool.execute(Self.exchange, [
            Self.outcomesJSON(finished), schedule, slots, settings.perEndpointConcurrency,
            Double(settings.leaseSeconds), settings.queueBatch,
        ])
        var result = Exchange()
        for row in 0..<rows.rowCount {
            let cells = rows[row]
            switch try cells.decode(String.self, column: 0) {
            case "recorded":
                result.recorded.append(try cells.decode(String.self, column: 4))
                continue
            case "summary":
                result.hasActiveEndpoints = try cells.decode(String.self, column: 4) == "endpoints"
                continue
            default:
                break
            }
            let seq = try cells.decode(Int64.self, column: 2)
            result.leased.append(Delivery(
                webhookID: try cells.decode(Int64.self, column: 1), eventSeq: seq, leaseID: try cells.decode(Int64.self, column: 3),
                url: try cells.decode(String.self, column: 5), secret: try cells.decode(String.self, column: 6),
                body: try WebhookPayload.body(rows, row: row, firstContactColumn: Self.deliveryColumns)))
        }
        return result
    }

    /// `[{"w":…,"s":…,"l":…,"outcome":…,"retry_after":…,"error":…}, …]`.
    static func outcomesJSON(_ finished: [Finished]) -> String {
        var writer = JSONWriter()
        writer.beginArray()
        for item in finished {
            writer.beginObject()
            writer.key("w")
            writer.number(item.delivery.webhookID)
            writer.key("s")
            writer.number(item.delivery.eventSeq)
            writer.key("l")
            writer.number(item.delivery.leaseID)
            writer.key("outcome")
            switch item.outcome {
            case .delivered: writer.string("delivered")
            case .gone:
                writer.string("gone")
                writer.key("error")
                writer.string("HTTP 410")
            case .released: writer.string("released")
            case let .failed(error, retryAfter):
                writer.string("failed")
                writer.key("error")
                writer.string(error)
                if let retryAfter {
                    writer.key("retry_after")
                    writer.number(retryAfter)
                }
            }
            writer.endObject()
        }
        writer.endArray()
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
