import ArgumentParser
import Contacts
import Glibc
import Operations
import Postgres
import Reactor

/// `crm serve`: applies pending migrations, then serves the API until SIGTERM/SIGINT.
///
/// Every option also reads an environment variable; the flag wins. `crm serve --help` and the
/// README's configuration table list the same settings.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Apply pending migrations, then serve the API."
    )

    @Option(help: "Address to listen on: :: (IPv6 and IPv4), 0.0.0.0, 127.0.0.1, … (env CRM_HOST; default ::)")
    var host: String?
    @Option(help: "Port (env CRM_PORT; default 8080)")
    var port: Int?
    @Option(name: .customLong("pool-size"), help: "PostgreSQL connections at most (env CRM_POOL_SIZE; default 16)")
    var poolSize: Int?
    @Option(name: .customLong("acquire-timeout"),
            help: "Seconds a request waits for a database connection before 503 (env CRM_ACQUIRE_TIMEOUT; default 5)")
    var acquireTimeout: Double?
    @Option(name: .customLong("statement-timeout"),
            help: "Seconds a database statement may run or wait for a lock before 503; 0: no limit (env CRM_STATEMENT_TIMEOUT; default 5)")
    var statementTimeout: Double?
    @Option(name: .customLong("trusted-proxy"),
            help: "A proxy address whose X-Forwarded-For is believed; repeat for several (env CRM_TRUSTED_PROXIES, comma-separated)")
    var trustedProxies: [String] = []
    @Option(name: .customLong("event-loops"), help: "HTTP event loop threads (env CRM_EVENT_LOOPS; default: one per core)")
    var eventLoops: Int?
    @Option(name: .customLong("max-body-bytes"), help: "Largest request body; larger gets 413 (env CRM_MAX_BODY_BYTES; default 65536)")
    var maxBodyBytes: Int?
    @Option(name: .customLong("request-timeout"),
            help: "Seconds a client may take to send a request; slower gets 408 (env CRM_REQUEST_TIMEOUT; default 10)")
    var requestTimeout: Double?
    @Option(name: .customLong("idle-timeout"), help: "Seconds an idle keep-alive connection stays open (env CRM_IDLE_TIMEOUT; default 60)")
    var idleTimeout: Double?
    @Option(name: .customLong("max-connections"), help: "Open connections at most; more get 503 (env CRM_MAX_CONNECTIONS; default 10000)")
    var maxConnections: Int?
    @Option(name: .customLong("handler-timeout"),
            help: "Seconds a request may take to be handled once read; slower gets 503 (env CRM_HANDLER_TIMEOUT; default 3 × (acquire + statement timeout) + 1, at least 15)")
    var handlerTimeout: Double?
    @Option(name: .customLong("max-buffered-bytes"),
            help: "Bytes all connections together may hold in request and response buffers; past 7/8 of it, the oldest unfinished requests (503) and unread responses are shed (env CRM_MAX_BUFFERED_BYTES; default 134217728)")
    var maxBufferedBytes: Int?
    @Option(name: .customLong("rate-limit-burst"),
            help: "Requests a rate-limited key may burst (env CRM_RATE_LIMIT_BURST; default: the key's rate per second)")
    var rateLimitBurst: Int?
    @Option(name: .customLong("rate-limit-share-ms"),
            help: "Milliseconds between exchanges of rate-limited keys' counts with the other instances on the database (env CRM_RATE_LIMIT_SHARE_MS; default 200; 0: each process limits on its own)")
    var rateLimitShareMilliseconds: Int?
    @Option(name: .customLong("auth-failure-rate"),
            help: "Refused authentications (403) allowed per client address per second, and in a burst; past it unknown keys get 429 (env CRM_AUTH_FAILURE_RATE; default 20; 0: no limit)")
    var authFailureRate: Int?
    @Option(name: .customLong("log-format"), help: "Access log format: logfmt or json (env CRM_LOG_FORMAT; default logfmt)")
    var logFormat: String?
    @Option(name: .customLong("change-retention-days"),
            help: "Days change feed events are kept; older ones are purged, and a cursor before them gets 410 (env CRM_CHANGE_RETENTION_DAYS; default 7)")
    var changeRetentionDays: Int?
    @Flag(name: .customLong("webhook-allow-private"),
          help: "Let webhooks call loopback, private and link-local addresses (env CRM_WEBHOOK_ALLOW_PRIVATE=1; default: refused)")
    var webhookAllowPrivate = false
    @Option(name: .customLong("webhook-workers"),
            help: "Webhook deliveries this process sends at once; 0: it sends none, other instances do (env CRM_WEBHOOK_WORKERS; default 4)")
    var webhookWorkers: Int?
    @Option(name: .customLong("webhook-endpoint-concurrency"),
            help: "Webhook deliveries in flight at once to one endpoint, over all instances (env CRM_WEBHOOK_ENDPOINT_CONCURRENCY; default 4)")
    var webhookEndpointConcurrency: Int?
    @Option(name: .customLong("webhook-timeout"),
            help: "Seconds a webhook receiver has to answer 2xx (env CRM_WEBHOOK_TIMEOUT; default 15)")
    var webhookTimeout: Int?
    @Option(name: .customLong("webhook-retry-schedule"),
            help: "Seconds before each retry of a failed webhook, comma-separated (env CRM_WEBHOOK_RETRY_SCHEDULE; default 5,300,1800,7200,18000,36000,36000)")
    var webhookRetrySchedule: String?
    @Option(name: .customLong("max-import-bytes"),
            help: "Bytes an import upload may send; more is 413 (env CRM_MAX_IMPORT_BYTES; default 268435456)")
    var maxImportBytes: Int?
    @Option(name: .customLong("import-workers"),
            help: "Import jobs this process applies at once; 0: none, other instances do (env CRM_IMPORT_WORKERS; default 1)")
    var importWorkers: Int?
    @Option(name: .customLong("shutdown-grace"),
            help: "Seconds to finish requests in flight after SIGTERM/SIGINT (env CRM_SHUTDOWN_GRACE; default 10)")
    var shutdownGrace: Double?
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let settings = try ServeSettings(command: self)
        let (applied, total) = try await database.migrate()
        log("schema: \(applied.count) migration(s) applied, \(total) in all")

        // One set of loops for both: a request's queries go out on a connection of the loop that
        // handles the request, so no thread hands work to another (ConnectionPool).
        let loops = (0..<settings.eventLoops).map { EventLoop(name: "loop-\($0)") }
        let application = CRMApplication(configuration: try settings.application(database: database), loops: loops)
        try application.start()
        log("listening on \(settings.host) port \(application.server.port)")

        let signal = await TerminationSignals.wait()
        log("signal \(signal): finishing requests in flight")
        await application.stopServing(gracePeriod: .seconds(settings.shutdownGrace))
        // A query stuck on an unreachable database must not hold the exit: the pool gets a
        // few seconds to take its connections back, then the process ends anyway.
        let pool = application.pool
        if await Deadline.run(within: .seconds(5), otherwise: false, { await pool.shutdown(); return true }) {
            loops.forEach { $0.shutdown() }
            log("stopped")
        } else {
            log("stopped; database connections still busy were abandoned")
        }
    }

    private func log(_ line: String) {
        FileHandleOutput.standardError("crm: \(line)\n")
    }
}

/// `crm serve`'s settings: flag, else environment, else default; checked before anything starts.
struct ServeSettings {
    let host: String
    let port: Int
    let poolSize: Int
    let acquireTimeout: Double
    let statementTimeout: Double
    let eventLoops: Int
    let trustedProxies: Set<String>
    let maxBodyBytes: Int
    let requestTimeout: Double
    let idleTimeout: Double
    let maxConnections: Int
    let handlerTimeout: Double
    let maxBufferedBytes: Int
    let rateLimitBurst: Int?
    /// Milliseconds between ``RateLimitSharing`` exchanges; 0: none.
    let rateLimitShareMilliseconds: Int
    let authFailureRate: Int
    let logFormat: AccessLog.Format
    let shutdownGrace: Double
    let changeRetentionDays: Int
    let webhookAllowPrivate: Bool
    let webhooks: WebhookSettings
    let imports: ImportSettings

    init(command: ServeCommand) throws {
        host = command.host ?? Environment.value("CRM_HOST") ?? "::"
        port = try Self.pick(command.port, "CRM_PORT", 8080, in: 0...65535)
        poolSize = try Self.pick(command.poolSize, "CRM_POOL_SIZE", 16, in: 1...10_000)
        acquireTimeout = try Self.pick(command.acquireTimeout, "CRM_ACQUIRE_TIMEOUT", 5, in: 0.001...3600)
        statementTimeout = try Self.pick(command.statementTimeout, "CRM_STATEMENT_TIMEOUT", 5, in: 0...3600)
        eventLoops = try Self.pick(command.eventLoops, "CRM_EVENT_LOOPS", max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))), in: 1...1024)
        maxBodyBytes = try Self.pick(command.maxBodyBytes, "CRM_MAX_BODY_BYTES", 65_536, in: 1...(64 << 20))
        requestTimeout = try Self.pick(command.requestTimeout, "CRM_REQUEST_TIMEOUT", 10, in: 0.01...3600)
        idleTimeout = try Self.pick(command.idleTimeout, "CRM_IDLE_TIMEOUT", 60, in: 0.01...86_400)
        maxConnections = try Self.pick(command.maxConnections, "CRM_MAX_CONNECTIONS", 10_000, in: 1...1_000_000)
        // Past every wait the database may impose, so its own 503s come first: a request can
        // wait for a connection and a statement three times (the key's lookup, the operation,
        // a grant check after a refused parameter).
        handlerTimeout = try Self.pick(command.handlerTimeout, "CRM_HANDLER_TIMEOUT",
                                       max(15, 3 * (acquireTimeout + statementTimeout) + 1), in: 0.01...3600)
        maxBufferedBytes = try Self.pick(command.maxBufferedBytes, "CRM_MAX_BUFFERED_BYTES", 128 << 20, in: 1 << 20...1 << 40)
        // Whole requests are read only while they fit: leave room for several of the largest.
        guard maxBufferedBytes >= 4 * (maxBodyBytes + 16 * 1024) else {
            throw ValidationError("max-buffered-bytes (CRM_MAX_BUFFERED_BYTES) must be at least 4 × (max-body-bytes + 16384)")
        }
        shutdownGrace = try Self.pick(command.shutdownGrace, "CRM_SHUTDOWN_GRACE", 10, in: 0...3600)
        changeRetentionDays = try Self.pick(command.changeRetentionDays, "CRM_CHANGE_RETENTION_DAYS", 7, in: 1...3650)
        webhookAllowPrivate = command.webhookAllowPrivate || Environment.value("CRM_WEBHOOK_ALLOW_PRIVATE") == "1"
        let scheduleText = command.webhookRetrySchedule ?? Environment.value("CRM_WEBHOOK_RETRY_SCHEDULE")
        guard let schedule = scheduleText.map(WebhookSettings.retrySchedule(parsing:)) ?? WebhookSettings.defaultRetrySchedule else {
            throw ValidationError("webhook-retry-schedule (CRM_WEBHOOK_RETRY_SCHEDULE) must be up to 50 comma-separated whole seconds, each at most 1000000")
        }
        webhooks = WebhookSettings(workers: try Self.pick(command.webhookWorkers, "CRM_WEBHOOK_WORKERS", 4, in: 0...1000),
                                   retrySchedule: schedule,
                                   timeout: .seconds(try Self.pick(command.webhookTimeout, "CRM_WEBHOOK_TIMEOUT", 15, in: 1...300)),
                                   perEndpointConcurrency: try Self.pick(command.webhookEndpointConcurrency,
                                                                         "CRM_WEBHOOK_ENDPOINT_CONCURRENCY", 4, in: 1...1000))
        imports = ImportSettings(maxBytes: try Self.pick(command.maxImportBytes, "CRM_MAX_IMPORT_BYTES", 256 << 20, in: 1...(1 << 40)),
                                 workers: try Self.pick(command.importWorkers, "CRM_IMPORT_WORKERS", 1, in: 0...64))
        if command.rateLimitBurst != nil || Environment.value("CRM_RATE_LIMIT_BURST") != nil {
            rateLimitBurst = try Self.pick(command.rateLimitBurst, "CRM_RATE_LIMIT_BURST", 1, in: 1...1_000_000)
        } else {
            rateLimitBurst = nil
        }
        rateLimitShareMilliseconds = try Self.pick(command.rateLimitShareMilliseconds, "CRM_RATE_LIMIT_SHARE_MS", 200, in: 0...60_000)
        authFailureRate = try Self.pick(command.authFailureRate, "CRM_AUTH_FAILURE_RATE", 20, in: 0...1_000_000)
        let formatName = command.logFormat ?? Environment.value("CRM_LOG_FORMAT") ?? "logfmt"
        guard let format = AccessLog.Format(rawValue: formatName) else {
            throw ValidationError("the log format must be logfmt or json, not \(formatName)")
        }
        logFormat = format
        let proxies = command.trustedProxies.isEmpty
            ? (Environment.value("CRM_TRUSTED_PROXIES") ?? "").split(separator: ",").map { String($0.filter { $0 != " " }) }
            : command.trustedProxies
        trustedProxies = Set(proxies.filter { !$0.isEmpty })
    }

    /// The flag's value, else the environment variable's, else `fallback`; within `range`.
    private static func pick<Value: LosslessStringConvertible & Comparable>(
        _ flag: Value?, _ variable: String, _ fallback: Value, in range: ClosedRange<Value>
    ) throws -> Value {
        var value = fallback
        if let flag {
            value = flag
        } else if let text = Environment.value(variable) {
            guard let parsed = Value(text) else { throw ValidationError("\(variable) must be a number, not \(text)") }
            value = parsed
        }
        guard range.contains(value) else {
            let setting = String(variable.dropFirst(4).lowercased().map { $0 == "_" ? "-" : $0 })
            throw ValidationError("\(setting) (\(variable)) must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}

/// Writes to standard error without buffering (progress lines of `crm serve`).
enum FileHandleOutput {
    static func standardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = write(2, &bytes, bytes.count)
    }
}

