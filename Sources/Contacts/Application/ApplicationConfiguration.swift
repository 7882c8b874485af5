import HTTP
import Operations
import Postgres

/// Everything ``CRMApplication`` is built from: `crm serve` fills it from its flags, the tests
/// and the fuzzers from their own needs, and all of them get the same wiring.
public struct ApplicationConfiguration: Sendable {
    /// The key gate's sizes and rates (``KeyGate``).
    public struct KeyGateSettings: Sendable {
        /// Burst of a rate-limited key; nil: the key's rate per second.
        public var burst: Int?
        /// Refused authentications allowed per client address per second; 0: no limit.
        public var authFailureRate: Int
        /// Keys kept in the positive cache.
        public var capacity: Int
        /// Client addresses tracked for refused authentications.
        public var addressCapacity: Int
        /// How often rate-limited keys' counts are exchanged with the other instances
        /// (``RateLimitSharing``); nil: never, each process limits on its own. `crm serve` uses
        /// 200 ms; a test or a fuzzer that builds the application asks when it needs it.
        public var shareInterval: Duration?

        public init(burst: Int? = nil, authFailureRate: Int = 20, capacity: Int = 10_000, addressCapacity: Int = 10_000,
                    shareInterval: Duration? = nil) {
            self.burst = burst
            self.authFailureRate = authFailureRate
            self.capacity = capacity
            self.addressCapacity = addressCapacity
            self.shareInterval = shareInterval
        }
    }

    /// The database the pool connects to (its `statementTimeout` included).
    public var database: PostgresConfiguration
    public var pool: ConnectionPoolConfiguration
    /// Where the webhook listener keeps its `LISTEN` session; nil: ``database``. Behind a
    /// transaction pooler (PgBouncer), `LISTEN` needs a session of its own, so this points at
    /// PostgreSQL itself (`--listen-database-url`); without it, wake-ups fall back to the poll.
    public var listenDatabase: PostgresConfiguration?
    /// The HTTP server's address and limits; its `errorResponse` and `handlerTimedOut` are the
    /// application's own (set by ``CRMApplication``).
    public var http: HTTPServerConfiguration
    /// Peers whose `X-Forwarded-For` is believed.
    public var trustedProxies: Set<String>
    /// Served at `/openapi.yaml`.
    public var openAPIDocument: [UInt8]
    /// How long `/readyz` waits for the database.
    public var readinessTimeout: Duration
    public var keyGate: KeyGateSettings
    /// One line per request; nil: none.
    public var accessLog: AccessLog?
    /// One line per `500`; nil: none.
    public var errorLog: ErrorLog?
    /// Extra middleware, outermost of all (the tests record every answer with one).
    public var outerMiddleware: [any Middleware]
    /// How often expired rows are purged: stored Idempotency-Key answers older than 24 hours,
    /// change feed events older than ``changeRetentionDays``.
    public var purgeInterval: Duration = .seconds(300)
    /// Days change feed events are kept (`--change-retention-days`).
    public var changeRetentionDays: Int = 7
    /// Whether webhooks may call loopback and private addresses (`--webhook-allow-private`).
    public var webhookAllowPrivate = false
    /// How this process delivers webhooks (`--webhook-workers`, `CRM_WEBHOOK_RETRY_SCHEDULE`).
    /// None unless asked for: `crm serve` asks (4 workers by default); a test or a fuzzer that
    /// builds the application sends nothing to the endpoints it adds unless it says so.
    public var webhooks = WebhookSettings(workers: 0)
    /// How this process takes uploads and runs import jobs. Uploads are taken, but no job is
    /// run unless asked for: `crm serve` asks (1 worker by default), as for webhooks.
    public var imports = ImportSettings(workers: 0)
    /// Sees every answer the HTTP server makes itself (a protocol error), after the application rendered it.
    public var protocolErrorObserver: (@Sendable (HTTPResponse) -> Void)?

    public init(database: PostgresConfiguration, pool: ConnectionPoolConfiguration = ConnectionPoolConfiguration(maxConnections: 16),
                http: HTTPServerConfiguration = HTTPServerConfiguration(), trustedProxies: Set<String> = [],
                openAPIDocument: [UInt8] = [], readinessTimeout: Duration = .seconds(1), keyGate: KeyGateSettings = KeyGateSettings(),
                accessLog: AccessLog? = nil, errorLog: ErrorLog? = nil) {
        self.database = database
        self.pool = pool
        self.http = http
        self.trustedProxies = trustedProxies
        self.openAPIDocument = openAPIDocument
        self.readinessTimeout = readinessTimeout
        self.keyGate = keyGate
        self.accessLog = accessLog
        self.errorLog = errorLog
        outerMiddleware = []
        protocolErrorObserver = nil
    }
}
