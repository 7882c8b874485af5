import HTTP
import Operations
import Postgres
import Reactor

/// The whole service wired once: the pool, the API's endpoints, the key gate, the middleware
/// chain, the router and the HTTP server. `crm serve`, the tests and the fuzzers all build it
/// here, so a test runs the same wiring as production.
///
/// One request's way: ``handle(_:)`` makes its ``RequestContext`` (route matched, id, key),
/// then the chain runs, outermost first: the configuration's outer middleware, request id,
/// observation (metrics and access log, ``RequestObserver``), error mapping, and the
/// ``Router`` (`404`, `405`, path parameters, then the route's own chain: the key gate and the
/// handler).
public final class CRMApplication: Sendable {
    public let configuration: ApplicationConfiguration
    public let pool: ConnectionPool
    public let api: ContactsAPI
    public let keys: KeyGate
    /// Exchanges rate-limited keys' counts with the other instances; nil when not configured.
    public let rateLimitSharing: RateLimitSharing?
    public let metrics: MetricsRegistry
    public let server: HTTPServer
    /// Deletes stored Idempotency-Key answers after 24 hours, in the background.
    public let idempotencyKeyPurger: RetentionPurger
    /// Deletes change feed events after the configured retention, in the background.
    public let changePurger: RetentionPurger
    /// Sends webhooks (API.md §11) in the background.
    public let webhooks: WebhookDeliveryService
    /// Applies staged imports (API.md §12) in the background; nil when this process runs none.
    public let importWorker: ImportWorker?
    /// Imports' counts for `/metrics`.
    public let importStatistics = ImportStatistics()
    private let chain: Responder

    /// Builds the service on `loops`, shared by the HTTP server and the pool's partitions (a
    /// request's queries go out on a connection of the loop that handles it). Nothing runs
    /// until ``start()``.
    public init(configuration: ApplicationConfiguration, loops: [EventLoop]) {
        self.configuration = configuration
        pool = ConnectionPool(configuration: configuration.pool, connection: configuration.database, loops: loops)
        let metrics = MetricsRegistry()
        self.metrics = metrics
        ServiceMetrics.declare(in: metrics, accessLog: configuration.accessLog, errorLog: configuration.errorLog)
        let addresses = AddressPolicy(allowsPrivate: configuration.webhookAllowPrivate)
        let databaseErrors = DatabaseErrorCounter()
        webhooks = WebhookDeliveryService(pool: pool, database: configuration.listenDatabase ?? configuration.database, settings: configuration.webhooks,
                                          addresses: addresses, loop: loops[0], databaseErrors: databaseErrors)
        let imports = configuration.imports
        importWorker = imports.workers > 0
            ? ImportWorker(pool: pool, workers: imports.workers, chunkSize: imports.chunkSize, pollInterval: imports.pollInterval,
                           statistics: importStatistics, databaseErrors: databaseErrors) : nil
        api = ContactsAPI(store: ContactStore(pool: pool, changes: webhooks.notifier), metrics: metrics, trustedProxies: configuration.trustedProxies,
                          openAPIDocument: configuration.openAPIDocument, readinessTimeout: configuration.readinessTimeout,
                          webhookAddresses: addresses, databaseErrors: databaseErrors,
                          importWorker: importWorker, maxImportRows: imports.maxRows)
        let gate = configuration.keyGate
        let keys = KeyGate(pool: pool, burst: gate.burst, authFailureRate: gate.authFailureRate, capacity: gate.capacity,
                           addressCapacity: gate.addressCapacity)
        self.keys = keys
        rateLimitSharing = gate.shareInterval.map { RateLimitSharing(gate: keys, interval: $0, databaseErrors: databaseErrors) }
        let requestMetrics = RequestMetricsObserver(registry: metrics)
        let errors = ErrorMiddleware(databaseErrors: api.databaseErrors, errorLog: configuration.errorLog)
        let router = Router(api: api, keyGate: KeyGateMiddleware(keys: keys, api: api, metrics: metrics), errors: errors)
        ServiceMetrics.declare(in: metrics, api: api, keys: keys)
        let observers: [any RequestObserver] = [requestMetrics] + (configuration.accessLog.map { [AccessLogObserver(log: $0)] } ?? [])
        let middleware: [any Middleware] = configuration.outerMiddleware
            + [RequestIDMiddleware(), ObservationMiddleware(observers: observers), errors]
        chain = MiddlewareChain.compose(middleware, around: Responder { try await router.respond(to: $0) })
        server = HTTPServer(configuration: Self.serverConfiguration(configuration, observers: observers), loops: loops,
                            handler: { [chain] request in await Self.respond(to: request, chain: chain) })
        ServiceMetrics.declare(in: metrics, server: server)
        ServiceMetrics.declare(in: metrics, webhooks: webhooks.statistics)
        ServiceMetrics.declare(in: metrics, imports: importStatistics)
        idempotencyKeyPurger = .idempotencyKeys(pool: pool, interval: configuration.purgeInterval,
                                                databaseErrors: api.databaseErrors)
        changePurger = .changes(pool: pool, days: configuration.changeRetentionDays, interval: configuration.purgeInterval,
                                databaseErrors: api.databaseErrors)
    }

    /// Answers one request through the whole chain, as the server does; never throws.
    @Sendable
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        await Self.respond(to: request, chain: chain)
    }

    public func start() throws {
        try server.start()
        idempotencyKeyPurger.start()
        changePurger.start()
        webhooks.start()
        importWorker?.start()
        rateLimitSharing?.start()
    }

    /// Stops accepting, finishes the requests in flight within `gracePeriod`, and flushes the
    /// logs. The pool is the caller's to shut down (``ConnectionPool/shutdown()``), since a
    /// query stuck on an unreachable database may need abandoning.
    public func stopServing(gracePeriod: Duration) async {
        idempotencyKeyPurger.stop()
        changePurger.stop()
        rateLimitSharing?.stop()
        await webhooks.stop(gracePeriod: min(gracePeriod, .seconds(5)))
        await importWorker?.stop()
        await server.shutdown(gracePeriod: gracePeriod)
        configuration.accessLog?.close()
        configuration.errorLog?.close()
    }

    private static func respond(to request: HTTPRequest, chain: Responder) async -> HTTPResponse {
        let context = RequestContext(request)
        do {
            return try await chain.respond(context)
        } catch {
            // The error middleware answers everything below it; this is for an outer middleware's own error.
            return APIResponse.error(RequestFailure(error).answer)
        }
    }

    /// The server's own answers in the API's shape, and its handler-deadline `503` tagged with
    /// the request's id and reported to the metrics and the access log.
    private static func serverConfiguration(_ configuration: ApplicationConfiguration,
                                            observers: [any RequestObserver]) -> HTTPServerConfiguration {
        var http = configuration.http
        let maxImportBytes = configuration.imports.maxBytes
        http.limits.streamedBodyLimit = { head in
            ImportSettings.isUpload(method: head.method.rawValue, path: head.path) ? maxImportBytes : nil
        }
        let observe = configuration.protocolErrorObserver
        http.errorResponse = { error in
            let response = APIResponse.protocolError(error)
            observe?(response)
            return response
        }
        http.handlerTimedOut = { timeout in
            let context = RequestContext(timeout.request)
            var response = timeout.response
            response.headers.set("X-Request-Id", context.requestID)
            let seconds = Double(MonotonicClock.nanoseconds(timeout.elapsed)) / 1e9
            for observer in observers { observer.handlerTimedOut(context, response: response, seconds: seconds) }
            return response
        }
        return http
    }
}
