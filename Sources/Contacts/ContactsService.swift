import HTTP
import Operations
import Postgres
import Reactor

/// The service's whole HTTP handler: around ``ContactsAPI`` it adds request ids, the key gate
/// (unknown keys refused before any operation, refused authentications limited per client
/// address, per-key rate limits: ``KeyGate``), `GET /metrics`, the request metrics, one access
/// log line per request and an error log line per `500`; and the same for the server's `503`
/// to a request whose handler missed its deadline (``handlerTimedOut(_:)``).
///
/// Per-request bookkeeping is kept cheap on purpose (it was half of a `/healthz` request's CPU
/// time when it built label strings and wrote a log line per request): ``RequestMetrics``
/// counts in integer-addressed slots and ``AccessLog`` writes in batches.
public struct ContactsService: Sendable {
    public let api: ContactsAPI
    public let metrics: MetricsRegistry
    public let keys: KeyGate
    public let accessLog: AccessLog?
    public let errorLog: ErrorLog?
    public let requestMetrics: RequestMetrics

    static let listingRoute = ContactsAPI.routeIndex("/crm/1")
    static let metricsRoute = ContactsAPI.routeIndex("/metrics")
    static let durationBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    public init(api: ContactsAPI, metrics: MetricsRegistry, keys: KeyGate, accessLog: AccessLog?, errorLog: ErrorLog?) {
        self.api = api
        self.metrics = metrics
        self.keys = keys
        self.accessLog = accessLog
        self.errorLog = errorLog
        requestMetrics = RequestMetrics(routes: ContactsAPI.routeTemplates, buckets: Self.durationBuckets)
        requestMetrics.register(in: metrics, requests: "crm_http_requests_total", duration: "crm_http_request_duration_seconds",
                                requestBytes: "crm_http_request_body_bytes_total", responseBytes: "crm_http_response_body_bytes_total")
        metrics.declareCounter("crm_rate_limited_total", help: "Requests refused with 429 by a key's rate limit.")
        metrics.declareCounter("crm_auth_refused_total", help: "Requests refused with 403 for an unknown, revoked or ungranted key.")
        metrics.declareCounter("crm_auth_throttled_total",
                               help: "Requests refused with 429 because their address ran out of refused authentications.")
        // The operations' and readiness pings' errors, and the key lookups' (counted by the gate,
        // once per lookup however many requests waited for it).
        let databaseErrors = api.databaseErrors, lookupErrors = keys.databaseErrors
        metrics.declareCollected("crm_db_errors_total", help: "Database errors by class: SQLSTATE class, connection, decode, client or not_run.",
                                 type: "counter") {
            databaseErrors.snapshot.merging(lookupErrors.snapshot, uniquingKeysWith: +).sorted { $0.key < $1.key }
                .map { (suffix: "", labels: [("class", $0.key)], value: Double($0.value)) }
        }
        metrics.declareGauge("crm_key_lookups_total", help: "Keys looked up in the database (not found live in the last second).",
                             type: "counter") { [keys] in
            [([], Double(keys.statistics.lookups))]
        }
        let probe = api.readinessProbe
        metrics.declareGauge("crm_readiness_pings_total", help: "Database pings sent for /readyz (one in flight at a time).",
                             type: "counter") {
            [([], Double(probe.statistics.pings))]
        }
        let pool = api.store.pool
        metrics.declareGauge("crm_db_pool_connections", help: "Pool connections by state.") {
            let stats = pool.statistics
            return [([("state", "in_use")], Double(stats.inUse)), ([("state", "idle")], Double(stats.idle)),
                    ([("state", "opening")], Double(stats.opening))]
        }
        metrics.declareGauge("crm_db_pool_max_connections", help: "The pool's maximum size.") {
            [([], Double(pool.configuration.maxConnections))]
        }
        metrics.declareGauge("crm_db_pool_waiting", help: "Requests waiting for a pool connection.") {
            [([], Double(pool.statistics.waiting))]
        }
        metrics.declareGauge("crm_db_pool_acquire_timeouts_total", help: "Waits for a pool connection that timed out.", type: "counter") {
            [([], Double(pool.statistics.acquireTimeouts))]
        }
        metrics.declareGauge("crm_db_pool_connect_failures_total", help: "Failed connection attempts.", type: "counter") {
            [([], Double(pool.statistics.connectFailures))]
        }
    }

    /// Adds the open-connections gauge once the server exists.
    public func observe(_ server: HTTPServer) {
        metrics.declareGauge("crm_http_open_connections", help: "Open client connections.") {
            [([], Double(server.openConnections))]
        }
    }

    @Sendable
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let started = MonotonicClock.now()
        let requestID = RequestID.from(request.headers["X-Request-Id"], number: request.number)
        let route = ContactsAPI.routeIndex(request.path)
        let key = APIKey.fromAuthorization(request.headers["Authorization"])
        var response: HTTPResponse
        var failure: RequestFailure?
        if route == Self.metricsRoute {
            response = metricsResponse(request)
        } else if route == Self.listingRoute, let key,
                  (try? ContactsAPI.listing(of: request, listingText: request.path.dropFirst("/crm/".count))) != nil {
            (response, failure) = await gated(request, key: key)
        } else {
            // The other routes, and /crm requests answered before any key is asked about (no
            // usable key, or a method or listing id refused): no gate.
            (response, failure) = await api.answer(request, presentedKey: key)
        }
        if let failure, failure.answer.status == 500 {
            errorLog?.record("internal_error", [("request_id", requestID), ("route", ContactsAPI.routeTemplates[route])] + failure.causeFields)
        }
        response.headers.set("X-Request-Id", requestID)
        // Cancelled means the server's handler deadline passed: the client got its 503, already
        // logged and counted (``handlerTimedOut(_:)``); this line says what became of the request.
        record(request, response, route: route, key: key, requestID: requestID,
               seconds: Double(MonotonicClock.now() &- started) / 1e9, clientStatus: Task.isCancelled ? 503 : nil)
        return response
    }

    /// The server's `503` for a request whose handler missed its deadline
    /// (``HTTPServerConfiguration/handlerTimedOut``): it carries the request's id, and is
    /// logged and counted like any answer.
    @Sendable
    public func handlerTimedOut(_ timeout: HTTPHandlerTimeout) -> HTTPResponse {
        let request = timeout.request
        let requestID = RequestID.from(request.headers["X-Request-Id"], number: request.number)
        var response = timeout.response
        response.headers.set("X-Request-Id", requestID)
        record(request, response, route: ContactsAPI.routeIndex(request.path), key: APIKey.fromAuthorization(request.headers["Authorization"]),
               requestID: requestID, seconds: Double(MonotonicClock.nanoseconds(timeout.elapsed)) / 1e9)
        return response
    }

    /// A `/crm/{listing_id}` request with a well-formed key, past the method and listing checks:
    /// through ``KeyGate``, then the operation.
    private func gated(_ request: HTTPRequest, key: APIKey) async -> (HTTPResponse, RequestFailure?) {
        let client = api.requesterAddress(of: request)
        let verdict: KeyGate.Verdict
        do {
            verdict = try await keys.admit(keyHash: key.digest, client: client)
        } catch {
            // Already counted by the gate: once per lookup, not once per request that waited for it.
            let failure = RequestFailure(error)
            return (APIResponse.error(failure.answer), failure)
        }
        let rateLimit: KeyGate.RateLimitDecision?
        switch verdict {
        case .unknown:
            metrics.increment("crm_auth_refused_total")
            return (APIResponse.error(.forbidden), nil)
        case .throttled(let decision):
            metrics.increment("crm_auth_throttled_total")
            var response = APIResponse.error(APIError(
                status: 429, code: .rateLimited,
                message: "Too many refused authentications from this address; retry after \(decision.retryAfterSeconds) s."))
            response.headers.set("Retry-After", String(decision.retryAfterSeconds))
            return (response, nil)
        case .admitted(let decision):
            rateLimit = decision
        }
        var response: HTTPResponse
        var failure: RequestFailure?
        if let rateLimit, !rateLimit.decision.allowed {
            metrics.increment("crm_rate_limited_total")
            response = APIResponse.error(APIError(
                status: 429, code: .rateLimited,
                message: "Too many requests for this key; retry after \(rateLimit.decision.retryAfterSeconds) s."))
            response.headers.set("Retry-After", String(rateLimit.decision.retryAfterSeconds))
        } else {
            (response, failure) = await api.answer(request, presentedKey: key)
            // The only 403 past the gate: the operation's SQL refused the key (revoked within
            // its cached second, or not granted this listing).
            if response.status == 403 {
                metrics.increment("crm_auth_refused_total")
                keys.refused(client: client)
            }
        }
        if let rateLimit {
            response.headers.set("RateLimit-Limit", String(rateLimit.limit))
            response.headers.set("RateLimit-Remaining", String(rateLimit.decision.remaining))
            response.headers.set("RateLimit-Reset", String(rateLimit.decision.resetSeconds))
        }
        return (response, failure)
    }

    private func metricsResponse(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "GET" || request.method == "HEAD" else {
            var response = APIResponse.error(APIError(status: 405, code: .methodNotAllowed, message: "Only GET and HEAD are supported here."))
            response.headers.set("Allow", "GET, HEAD")
            return response
        }
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, body: Array(metrics.render().utf8))
    }

    /// Counts and logs one answer; with `clientStatus` (a late handler's), logs only: the
    /// answer the client got was counted when it was sent.
    private func record(_ request: HTTPRequest, _ response: HTTPResponse, route: Int, key: APIKey?,
                        requestID: String, seconds: Double, clientStatus: Int? = nil) {
        let bytesOut = request.method == "HEAD" ? 0 : response.body.count
        // Any token is a method to the parser: only known ones are counted and logged as themselves.
        let methodIndex = RequestMetrics.methodIndex(request.method.rawValue)
        if clientStatus == nil {
            requestMetrics.record(route: route, methodIndex: methodIndex, status: response.status.code, seconds: seconds,
                                  bytesIn: request.body.count, bytesOut: bytesOut)
        }
        guard let accessLog else { return }
        let listing = route == Self.listingRoute ? request.path.dropFirst("/crm/".count).prefix(20) : ""
        accessLog.record(AccessLog.Entry(
            requestID: requestID,
            peer: request.peerAddress,
            method: RequestMetrics.methodName(methodIndex),
            route: ContactsAPI.routeTemplates[route],
            listing: listing.isEmpty ? "-" : String(listing),
            // Only the prefix, and only of something shaped like one of our keys.
            keyPrefix: key.flatMap { $0.text.utf8.count >= 24 ? $0.prefix : nil } ?? "-",
            status: response.status.code,
            durationMilliseconds: seconds * 1000,
            bytesIn: request.body.count,
            bytesOut: bytesOut,
            clientStatus: clientStatus))
    }
}
