/// How this process delivers webhooks (API.md §11): how many deliveries at once
/// (`--webhook-workers`, 0: none, the process only serves the API), the retry schedule
/// (`CRM_WEBHOOK_RETRY_SCHEDULE`), the timeout of one attempt, the per-endpoint cap, and how
/// often the queue is looked at when nothing wakes the dispatcher.
public struct WebhookSettings: Sendable, Equatable {
    /// §11's schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (each ±10 % jitter).
    public static let defaultRetrySchedule = [5, 300, 1800, 7200, 18000, 36000, 36000]

    /// Deliveries in flight at once in this process.
    public var workers: Int
    /// Seconds to wait before each retry; after the last one fails, the event is dropped for
    /// that endpoint.
    public var retrySchedule: [Int]
    /// How long an attempt may take (a `2xx` later than this is a failure).
    public var timeout: Duration
    /// Deliveries in flight at once to one endpoint, over every process.
    public var perEndpointConcurrency: Int
    /// How often the queue is polled without a wake-up (a `NOTIFY` or a write of this process).
    public var pollInterval: Duration
    /// Events queued per endpoint per exchange.
    public var queueBatch: Int

    public init(workers: Int = 4, retrySchedule: [Int] = WebhookSettings.defaultRetrySchedule, timeout: Duration = .seconds(15),
                perEndpointConcurrency: Int = 4, pollInterval: Duration = .seconds(1), queueBatch: Int = 100) {
        self.workers = workers
        self.retrySchedule = retrySchedule
        self.timeout = timeout
        self.perEndpointConcurrency = perEndpointConcurrency
        self.pollInterval = pollInterval
        self.queueBatch = queueBatch
    }

    /// How long a lease lasts: the attempt's timeout and 10 s for recording it. A process that
    /// died mid-delivery holds it that long (25 s by default: attempted again within 30 s).
    public var leaseSeconds: Int { Int(timeout.components.seconds) + 10 }

    /// A schedule written as comma-separated seconds (`5,300,1800`); nil unless every part is
    /// a whole number from 0 to 1,000,000 and there are at most 50.
    public static func retrySchedule(parsing text: String) -> [Int]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int(String($0.trimming(.spacesAndTabs))) }
        guard !parts.isEmpty, parts.count <= 50, parts.allSatisfy({ $0 != nil && (0...1_000_000).contains($0!) }) else { return nil }
        return parts.map { $0! }
    }
}
