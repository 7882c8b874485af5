import HTTP
import Operations
import Postgres
import Reactor

/// The service's whole HTTP handler: around ``ContactsAPI`` it adds request ids, per-key rate
/// limits, `GET /metrics`, the request metrics and one access log line per request.
///
/// Per-request bookkeeping is kept cheap on purpose (it was half of a `/healthz` request's CPU
/// time when it built label strings and wrote a log line per request): ``RequestMetrics``
/// counts in integer-addressed slots and ``AccessLog`` writes in batches.
public struct ContactsService: Sendable {
    public let api: ContactsAPI
    public let metrics: MetricsRegistry
    public let rateLimits: KeyRateLimits?
    public let accessLog: AccessLog?
    public let requestMetrics: RequestMetrics

    static let listingRoute = ContactsAPI.routeIndex("/crm/1")
    static let metricsRoute = ContactsAPI.routeIndex("/metrics")
    static let durationBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    public init(api: ContactsAPI, metrics: MetricsRegistry, rateLimits: KeyRateLimits?, accessLog: AccessLog?) {
        self.api = api
        self.metrics = metrics
        self.rateLimits = rateLimits
        self.accessLog = accessLog
        requestMetrics = RequestMetrics(routes: ContactsAPI.routeTemplates, buckets: Self.durationBuckets)
        requestMetrics.register(in: metrics, requests: "crm_http_requests_total", duration: "crm_http_request_duration_seconds",
                                requestBytes: "crm_http_request_body_bytes_total", responseBytes: "crm_http_response_body_bytes_total")
        metrics.declareCounter("crm_rate_limited_total", help: "Requests refused with 429 by a key's rate limit.")
        metrics.declareCounter("crm_db_errors_total", help: "Database errors by SQLSTATE class (or 'connection').")
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
        let requestID = RequestID.from(request.headers["X-Request-Id"])
        let route = ContactsAPI.routeIndex(request.path)
        let key = APIKey.fromAuthorization(request.headers["Authorization"])
        var response: HTTPResponse
        if route == Self.metricsRoute {
            response = metricsResponse(request)
        } else if route == Self.listingRoute, let key, let rateLimits {
            response = await limited(request, key: key, rateLimits: rateLimits)
        } else {
            response = await api.handle(request, presentedKey: key)
        }
        response.headers.set("X-Request-Id", requestID)
        record(request, response, route: route, key: key, requestID: requestID, started: started)
        return response
    }

    private func limited(_ request: HTTPRequest, key: APIKey, rateLimits: KeyRateLimits) async -> HTTPResponse {
        let check: (limit: Int, decision: TokenBucket.Decision)?
        do {
            check = try await rateLimits.check(keyHash: key.digest)
        } catch is ConnectionPoolError {
            return APIResponse.error(.unavailable)
        } catch let error as PostgresError where error.isConnectionError || error.isTimeout {
            return APIResponse.error(.unavailable)
        } catch {
            return APIResponse.error(.internal)
        }
        guard let check else { return await api.handle(request, presentedKey: key) }
        var response: HTTPResponse
        if check.decision.allowed {
            response = await api.handle(request, presentedKey: key)
        } else {
            metrics.increment("crm_rate_limited_total")
            response = APIResponse.error(APIError(
                status: 429, code: .rateLimited,
                message: "Too many requests for this key; retry after \(check.decision.retryAfterSeconds) s."))
            response.headers.set("Retry-After", String(check.decision.retryAfterSeconds))
        }
        response.headers.set("RateLimit-Limit", String(check.limit))
        response.headers.set("RateLimit-Remaining", String(check.decision.remaining))
        response.headers.set("RateLimit-Reset", String(check.decision.resetSeconds))
        return response
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

    private func record(_ request: HTTPRequest, _ response: HTTPResponse, route: Int, key: APIKey?,
                        requestID: String, started: UInt64) {
        let seconds = Double(MonotonicClock.now() &- started) / 1e9
        let bytesOut = request.method == "HEAD" ? 0 : response.body.count
        // Any token is a method to the parser: only known ones are counted and logged as themselves.
        let methodIndex = RequestMetrics.methodIndex(request.method)
        requestMetrics.record(route: route, methodIndex: methodIndex, status: response.status, seconds: seconds,
                              bytesIn: request.body.count, bytesOut: bytesOut)
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
            status: response.status,
            durationMilliseconds: seconds * 1000,
            bytesIn: request.body.count,
            bytesOut: bytesOut))
    }
}
