import HTTP

/// The innermost responder: takes a request's matched route (``RequestContext``), answers a
/// method the route does not serve with `405` and `Allow`, an unmatched path with `404`,
/// validates the path parameters (`{listing_id}`: `400`), then runs the route's own chain (the
/// key gate for ``Route/keyGated`` routes, then error mapping, so the gate sees the handler's
/// answer as the client will) and its handler. The per-route chains are composed once, at start.
struct Router: Sendable {
    private let chains: [Responder]

    init(api: ContactsAPI, keyGate: KeyGateMiddleware, errors: ErrorMiddleware) {
        chains = RouteTable.routes.map { route in
            let handler = errors.wrapping(Responder { context in try await route.handler(api, context) })
            return route.keyGated ? keyGate.wrapping(handler) : handler
        }
    }

    func respond(to context: RequestContext) async throws -> HTTPResponse {
        guard let route = context.route else { throw APIError.routeNotFound }
        guard route.serves(context.request.method) else { throw route.methodNotAllowed }
        var context = context
        if let listingText = context.pathParameter("listing_id") {
            context.listing = try Self.listingID(listingText)
        }
        return try await chains[context.routeIndex].respond(context)
    }

    /// `{listing_id}`: a whole number from 1 to 2⁶³ − 1.
    static func listingID(_ text: Substring) throws(APIError) -> Int64 {
        guard let listing = try ContactValidation.integer("listing_id", String(text), in: 1...Int64.max) else {
            throw APIError.invalid("listing_id", "listing_id must be a whole number from 1 to 9223372036854775807.")
        }
        return listing
    }
}
