import HTTP
import Operations

/// Something told of every answer once it is made, with the one measurement all of them share
/// (the metrics' duration and the access log's are the same number): the request metrics and
/// the access log. Also told of the `503` the server sends when a handler misses its deadline
/// (``CRMApplication``'s `handlerTimedOut`): that answer never comes back through the chain, so
/// it is reported on the event loop, and must not block.
protocol RequestObserver: Sendable {
    /// `late`: the handler finished after its deadline; the client got the server's `503`
    /// (already reported through ``handlerTimedOut(_:response:seconds:)``), not `response`.
    func answered(_ context: RequestContext, response: HTTPResponse, seconds: Double, late: Bool)
    func handlerTimedOut(_ context: RequestContext, response: HTTPResponse, seconds: Double)
}

/// Measures each request once (its duration, whether its handler ran late) and tells every
/// ``RequestObserver``.
struct ObservationMiddleware: Middleware {
    let observers: [any RequestObserver]

    func respond(to context: RequestContext, next: Responder) async throws -> HTTPResponse {
        let response = try await next.respond(context)
        // Cancelled means the server's handler deadline passed: the client got its 503.
        let seconds = context.elapsedSeconds, late = Task.isCancelled
        for observer in observers { observer.answered(context, response: response, seconds: seconds, late: late) }
        return response
    }
}
