/// A route of the service: its template (as metrics and the access log name it), the methods
/// it serves and, for each, every status the service itself can answer it with. Statuses the
/// HTTP server answers on its own, on any path, are ``ContactsAPI/serverStatuses``.
public struct Route: Sendable {
    /// A method the route serves, and every status the service can answer it with.
    public struct Method: Sendable {
        public let name: String
        public let statuses: [Int]
    }

    public let template: String
    /// In `Allow` order.
    public let methods: [Method]
    /// What a method the route does not serve gets: `405` with ``allow``, or for the catch-all `404`.
    public let otherMethodStatus: Int
    /// The `405` message.
    public let methodNotAllowedMessage: String

    /// The `Allow` header of a `405`: `GET, HEAD`.
    public var allow: String { methods.map(\.name).joined(separator: ", ") }

    public func serves(_ method: String) -> Bool {
        methods.contains { $0.name == method }
    }

    /// Every status the service can answer `method` on this route with (any method: the other-method status).
    public func statuses(for method: String) -> [Int] {
        methods.first { $0.name == method }?.statuses ?? [otherMethodStatus]
    }

    /// The `405` for a method the route does not serve, with ``allow``.
    public var methodNotAllowed: APIError {
        APIError(status: 405, code: .methodNotAllowed, message: methodNotAllowedMessage)
    }
}

extension ContactsAPI {
    /// Every route, in ``routeIndex(_:)`` order; the last is the catch-all (`404` to anything).
    ///
    /// The router takes each route's methods, `405` and `Allow` from here, metrics and the access
    /// log its templates. The tests hold every response of a running server to these statuses,
    /// and require each (route, method, status) in openapi.yaml and nothing more there, so what
    /// the service answers, this list and the document cannot drift apart.
    public static let routes: [Route] = [
        Route(template: "/crm/{listing_id}", methods: [
            Route.Method(name: "GET", statuses: [200, 400, 403, 404, 415, 429, 500, 503]),
            Route.Method(name: "HEAD", statuses: [200, 400, 403, 404, 415, 429, 500, 503]),
            Route.Method(name: "POST", statuses: [201, 400, 403, 409, 415, 429, 500, 503]),
            Route.Method(name: "PUT", statuses: [200, 201, 400, 403, 404, 409, 415, 429, 500, 503]),
            Route.Method(name: "DELETE", statuses: [202, 400, 403, 404, 415, 429, 500, 503]),
        ], otherMethodStatus: 405, methodNotAllowedMessage: "This endpoint supports GET, HEAD, POST, PUT and DELETE."),
        operations("/healthz", statuses: [200]),
        operations("/readyz", statuses: [200, 503]),
        operations("/metrics", statuses: [200]),
        operations("/openapi.yaml", statuses: [200]),
        Route(template: "other", methods: [], otherMethodStatus: 404, methodNotAllowedMessage: ""),
    ]

    /// What the HTTP server answers itself, on any path, before a route sees the request:
    /// malformed (`400`), too slow (`408`), body too large (`413`), head too large (`431`),
    /// an unknown transfer coding (`501`), the connection limit (`503`), an HTTP version
    /// other than 1.x (`505`).
    public static let serverStatuses = [400, 408, 413, 431, 501, 503, 505]

    /// The route of the contacts API.
    static let contactsRoute = routes[0]

    private static func operations(_ template: String, statuses: [Int]) -> Route {
        Route(template: template, methods: [Route.Method(name: "GET", statuses: statuses), Route.Method(name: "HEAD", statuses: statuses)],
              otherMethodStatus: 405, methodNotAllowedMessage: "Only GET and HEAD are supported here.")
    }
}
