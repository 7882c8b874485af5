import HTTP

/// Echoes the request's id (``RequestContext/requestID``: the client's `X-Request-Id` when it
/// is usable, else one of ours) on every answer as `X-Request-Id`.
struct RequestIDMiddleware: Middleware {
    func respond(to context: RequestContext, next: Responder) async throws -> HTTPResponse {
        var response = try await next.respond(context)
        response.headers.set("X-Request-Id", context.requestID)
        return response
    }
}
