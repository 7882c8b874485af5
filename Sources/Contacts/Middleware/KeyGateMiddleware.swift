import HTTP
import Operations

/// The key gate in front of ``Route/keyGated`` routes (``KeyGate``): a well-formed key that is
/// not live gets `403` before anything else runs; an address out of refused authentications
/// gets `429`; a rate-limited key past its limit gets `429`, and every answer to a rate-limited
/// key carries its `RateLimit-*` headers. A request without a usable key passes through, for
/// the handler's plain `403`. The handler's own plain `403` (a key revoked within its cached
/// second, or not granted the listing) is counted as a refused authentication of its address.
struct KeyGateMiddleware: Middleware {
    let keys: KeyGate
    let api: ContactsAPI
    let metrics: MetricsRegistry

    init(keys: KeyGate, api: ContactsAPI, metrics: MetricsRegistry) {
        self.keys = keys
        self.api = api
        self.metrics = metrics
        metrics.declareCounter("crm_rate_limited_total", help: "Requests refused with 429 by a key's rate limit.")
        metrics.declareCounter("crm_auth_refused_total", help: "Requests refused with 403 for an unknown, revoked or ungranted key.")
        metrics.declareCounter("crm_auth_throttled_total",
                               help: "Requests refused with 429 because their address ran out of refused authentications.")
    }

    private static let plainForbiddenBody = APIError.forbidden.body

    func respond(to context: RequestContext, next: Responder) async throws -> HTTPResponse {
        guard let key = context.presentedKey else { return try await next.respond(context) }
        let client = api.requesterAddress(of: context.request)
        let verdict: KeyGate.Verdict
        do {
            verdict = try await keys.admit(keyHash: key.digest, client: client)
        } catch {
            throw KeyLookupFailure(underlying: error)
        }
        switch verdict {
        case .unknown:
            metrics.increment("crm_auth_refused_total")
            throw APIError.forbidden
        case .throttled(let decision):
            metrics.increment("crm_auth_throttled_total")
            throw APIError.rateLimited(
                "Too many refused authentications from this address; retry after \(decision.retryAfterSeconds) s.",
                retryAfterSeconds: decision.retryAfterSeconds)
        case .admitted(nil):
            return try await answer(context, client: client, next: next)
        case .admitted(let rateLimit?):
            var response: HTTPResponse
            if rateLimit.decision.allowed {
                response = try await answer(context, client: client, next: next)
            } else {
                metrics.increment("crm_rate_limited_total")
                response = APIResponse.error(APIError.rateLimited(
                    "Too many requests for this key; retry after \(rateLimit.decision.retryAfterSeconds) s.",
                    retryAfterSeconds: rateLimit.decision.retryAfterSeconds))
            }
            response.headers.set("RateLimit-Limit", String(rateLimit.limit))
            response.headers.set("RateLimit-Remaining", String(rateLimit.decision.remaining))
            response.headers.set("RateLimit-Reset", String(rateLimit.decision.resetSeconds))
            return response
        }
    }

    /// The handler's answer (errors already mapped: the route's chain has its own
    /// ``ErrorMiddleware`` inside the gate, so a rate-limited key's every answer carries its
    /// headers); its plain `403` (the operation's SQL refused the key: revoked, or not granted
    /// the listing) counts against the address. A `403` naming a missing scope does not: the
    /// key is live and granted the listing, only not for this method.
    private func answer(_ context: RequestContext, client: String, next: Responder) async throws -> HTTPResponse {
        let response = try await next.respond(context)
        if response.status == 403 && response.body == Self.plainForbiddenBody {
            metrics.increment("crm_auth_refused_total")
            keys.refused(client: client)
        }
        return response
    }
}
