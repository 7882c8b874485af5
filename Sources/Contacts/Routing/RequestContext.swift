import HTTP
import Operations
import Reactor

/// One request on its way through the middleware chain to its handler: the request, the
/// route it matched, its id, the key it presented, and what the router validated of its
/// path. Made once per request by ``CRMApplication`` before the chain runs, so every
/// middleware labels and logs the request the same way.
public struct RequestContext: Sendable {
    public let request: HTTPRequest
    /// The matched route's index in ``RouteTable/routes``; `routes.count` when none matched.
    public let routeIndex: Int
    /// The raw text of the route's `{…}` path parameters, in path order.
    public let pathParameters: [Substring]
    /// The `X-Request-Id` echoed on the response and written in every log line.
    public let requestID: String
    /// The key of the `Authorization` header, if it has a key's form (not checked yet).
    public let presentedKey: APIKey?
    /// When the request reached the application (``MonotonicClock`` nanoseconds).
    public let started: UInt64
    /// The validated `{listing_id}` of a route that has one, set by the ``Router``.
    public internal(set) var listing: Int64?

    public init(_ request: HTTPRequest, started: UInt64 = MonotonicClock.now()) {
        self.request = request
        self.started = started
        (routeIndex, pathParameters) = RouteTable.match(request.path)
        requestID = RequestID.from(request.headers["X-Request-Id"], number: request.number)
        presentedKey = APIKey.fromAuthorization(request.headers["Authorization"])
    }

    /// The matched route; nil when no route matched.
    public var route: Route? { RouteTable.route(at: routeIndex) }

    /// The scope a key needs for this request's method on its route (nil: none, or no route).
    public var requiredScope: KeyScope? {
        route?.methods.first { $0.method == request.method }?.scope
    }

    /// The route's label in metrics and logs: its template, or `other`.
    public var routeLabel: String { RouteTable.labels[routeIndex] }

    /// The raw text of the path parameter `name` of the matched route, if it has one.
    public func pathParameter(_ name: String) -> Substring? {
        guard let route, let position = route.pattern.parameterNames.firstIndex(of: name) else { return nil }
        return pathParameters[position]
    }

    /// Seconds since ``started``.
    public var elapsedSeconds: Double {
        Double(MonotonicClock.now() &- started) / 1e9
    }
}
