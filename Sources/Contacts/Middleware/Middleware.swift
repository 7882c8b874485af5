import HTTP

/// Something that answers a request: the router, a route's handler, or a middleware with
/// everything inside it.
public struct Responder: Sendable {
    public let respond: @Sendable (RequestContext) async throws -> HTTPResponse

    public init(_ respond: @escaping @Sendable (RequestContext) async throws -> HTTPResponse) {
        self.respond = respond
    }
}

/// One per-request extra with one job (request ids, metrics, the access log, error mapping,
/// the key gate, later idempotency), wrapped around the rest of the chain: it may look at
/// the request, answer it itself, or call `next` and look at or change the answer. No handler
/// knows about middleware; ``CRMApplication`` composes the chain once at start, the way
/// Hummingbird's `MiddlewareGroup` does.
public protocol Middleware: Sendable {
    func respond(to context: RequestContext, next: Responder) async throws -> HTTPResponse
}

extension Middleware {
    /// This middleware around `next`.
    func wrapping(_ next: Responder) -> Responder {
        Responder { context in try await self.respond(to: context, next: next) }
    }
}

/// Composes middleware around an innermost responder, once, at start.
public enum MiddlewareChain {
    /// `middleware` around `innermost`, the first outermost: it runs first and sees the answer last.
    public static func compose(_ middleware: [any Middleware], around innermost: Responder) -> Responder {
        middleware.reversed().reduce(innermost) { next, middleware in middleware.wrapping(next) }
    }
}
