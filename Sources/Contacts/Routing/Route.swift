import HTTP

/// One line of the route table (``RouteTable``): the path pattern, the methods it serves with
/// the key scope each needs and every status the service can answer it with, whether requests
/// go through the key gate (authentication and per-key rate limit, ``KeyGateMiddleware``), and
/// the handler. The pattern's text is the route's label in metrics and the access log.
public struct Route: Sendable {
    /// Answers a request matched to this route, with the API's endpoints at hand.
    public typealias Handler = @Sendable (ContactsAPI, RequestContext) async throws -> HTTPResponse

    /// A method the route serves, the scope a key needs for it (nil: no key needed), and every
    /// status the service can answer it with.
    public struct Method: Sendable {
        public let method: HTTPMethod
        public let scope: KeyScope?
        public let statuses: [HTTPStatus]

        public init(_ method: HTTPMethod, scope: KeyScope? = nil, statuses: [HTTPStatus]) {
            self.method = method
            self.scope = scope
            self.statuses = statuses
        }

        /// As the `Allow` header and openapi.yaml spell it.
        public var name: String { method.rawValue }
    }

    public let pattern: RoutePattern
    /// In `Allow` order.
    public let methods: [Method]
    /// True when requests pass the key gate before the handler: a well-formed key that is not
    /// live is refused there, and a rate-limited key is held to its limit.
    public let keyGated: Bool
    /// The `405` message for a method the route does not serve.
    public let methodNotAllowedMessage: String
    let handler: Handler

    public init(_ template: String, methods: [Method], keyGated: Bool = false,
                methodNotAllowedMessage: String = "Only GET and HEAD are supported here.", handler: @escaping Handler) {
        pattern = RoutePattern(template)
        self.methods = methods
        self.keyGated = keyGated
        self.methodNotAllowedMessage = methodNotAllowedMessage
        self.handler = handler
    }

    /// The route's label in metrics, the access log and openapi.yaml: its pattern as written.
    public var template: String { pattern.description }

    /// The `Allow` header of a `405`: `GET, HEAD`.
    public var allow: String { methods.map(\.name).joined(separator: ", ") }

    public func serves(_ method: HTTPMethod) -> Bool {
        methods.contains { $0.method == method }
    }

    /// Every status the service can answer `method` on this route with (a method it does not
    /// serve: `405`).
    public func statuses(for method: HTTPMethod) -> [HTTPStatus] {
        methods.first { $0.method == method }?.statuses ?? [.methodNotAllowed]
    }

    /// The `405` for a method the route does not serve, with ``allow``.
    public var methodNotAllowed: APIError {
        APIError(status: 405, code: .methodNotAllowed, message: methodNotAllowedMessage, allow: allow)
    }

    /// A read-only operations route: GET and HEAD, no key.
    static func operations(_ template: String, statuses: [HTTPStatus], handler: @escaping Handler) -> Route {
        Route(template, methods: [Method("GET", statuses: statuses), Method("HEAD", statuses: statuses)], handler: handler)
    }
}
