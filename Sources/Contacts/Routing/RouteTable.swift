import HTTP

/// Every route of the service, in one table. Dispatch (``Router``), `405` and `Allow`, the
/// labels of metrics and the access log, the key gate and the tests' check of every answer
/// against openapi.yaml all read it, so adding a route is one line here (and its handler on
/// ``ContactsAPI``, its statuses in openapi.yaml).
///
/// A path no route matches gets `404` `not_found` whatever the method, labelled ``unmatchedLabel``.
public enum RouteTable {
    /// The statuses of every contacts request: what the gate, the grant and the parameters can answer.
    private static let contactStatuses: [HTTPStatus] = [400, 403, 404, 415, 429, 500, 503]

    public static let routes: [Route] = [
        Route("/crm/{listing_id}", methods: [
            Route.Method("GET", scope: .read, statuses: [200] + contactStatuses),
            Route.Method("HEAD", scope: .read, statuses: [200] + contactStatuses),
            Route.Method("POST", scope: .write, statuses: [201, 400, 403, 409, 415, 422, 429, 500, 503]),
            Route.Method("PUT", scope: .write, statuses: [200, 201, 400, 403, 404, 409, 415, 429, 500, 503]),
            Route.Method("DELETE", scope: .write, statuses: [202] + contactStatuses),
        ], keyGated: true, methodNotAllowedMessage: "This endpoint supports GET, HEAD, POST, PUT and DELETE.") {
            try await $0.contacts($1)
        },
        Route("/crm/{listing_id}/changes", methods: [
            Route.Method("GET", scope: .read, statuses: [200, 400, 403, 410, 415, 429, 500, 503]),
            Route.Method("HEAD", scope: .read, statuses: [200, 400, 403, 410, 415, 429, 500, 503]),
        ], keyGated: true) {
            try await $0.changes($1)
        },
        Route("/crm/{listing_id}/webhooks", methods: [
            Route.Method("GET", scope: .webhooks, statuses: [200, 400, 403, 415, 429, 500, 503]),
            Route.Method("HEAD", scope: .webhooks, statuses: [200, 400, 403, 415, 429, 500, 503]),
            Route.Method("POST", scope: .webhooks, statuses: [201, 400, 403, 415, 429, 500, 503]),
        ], keyGated: true, methodNotAllowedMessage: "This endpoint supports GET, HEAD and POST.") {
            try await $0.webhooks($1)
        },
        Route("/crm/{listing_id}/webhooks/{webhook_id}", methods: [
            Route.Method("DELETE", scope: .webhooks, statuses: [202, 400, 403, 404, 415, 429, 500, 503]),
        ], keyGated: true, methodNotAllowedMessage: "This endpoint supports DELETE.") {
            try await $0.webhook($1)
        },
        Route("/crm/{listing_id}/imports", methods: [
            Route.Method("POST", scope: .write, statuses: [202, 400, 403, 409, 413, 415, 422, 429, 500, 503]),
        ], keyGated: true, methodNotAllowedMessage: "This endpoint supports POST.") {
            try await $0.createImport($1)
        },
        Route("/crm/{listing_id}/imports/{import_id}", methods: [
            Route.Method("GET", scope: .read, statuses: [200] + contactStatuses),
            Route.Method("HEAD", scope: .read, statuses: [200] + contactStatuses),
        ], keyGated: true) {
            try await $0.importStatus($1)
        },
        Route("/crm/{listing_id}/imports/{import_id}/errors", methods: [
            Route.Method("GET", scope: .read, statuses: [200] + contactStatuses),
            Route.Method("HEAD", scope: .read, statuses: [200] + contactStatuses),
        ], keyGated: true) {
            try await $0.importErrors($1)
        },
        Route("/crm/{listing_id}/export", methods: [
            Route.Method("GET", scope: .read, statuses: [200] + contactStatuses.filter { $0 != 404 }),
            Route.Method("HEAD", scope: .read, statuses: [200] + contactStatuses.filter { $0 != 404 }),
        ], keyGated: true) {
            try await $0.export($1)
        },
        .operations("/healthz", statuses: [200]) { _, _ in ContactsAPI.healthy },
        .operations("/readyz", statuses: [200, 503]) { api, _ in await api.readiness() },
        .operations("/metrics", statuses: [200]) { api, _ in api.metricsPage() },
        .operations("/openapi.yaml", statuses: [200]) { api, _ in api.openAPIPage() },
    ]

    /// The label of requests no route matches.
    public static let unmatchedLabel = "other"

    /// Every route's label in ``routes`` order, then ``unmatchedLabel``: the request metrics'
    /// route slots (``RequestContext/routeIndex``).
    public static let labels = routes.map(\.template) + [unmatchedLabel]

    /// What the HTTP server answers itself, on any path, before a route sees the request:
    /// malformed (`400`), too slow (`408`), body too large (`413`), head too large (`431`),
    /// an unknown transfer coding (`501`), the connection limit (`503`), an HTTP version
    /// other than 1.x (`505`).
    public static let serverStatuses: [HTTPStatus] = [400, 408, 413, 431, 501, 503, 505]

    /// The route `path` belongs to (its index in ``routes``, or `routes.count` when none) and
    /// its parameters' raw text in path order.
    public static func match(_ path: Substring) -> (index: Int, parameters: [Substring]) {
        for (index, route) in routes.enumerated() {
            if let parameters = route.pattern.match(path) { return (index, parameters) }
        }
        return (routes.count, [])
    }

    /// The route at a ``match(_:)`` index; nil for the unmatched.
    public static func route(at index: Int) -> Route? {
        index < routes.count ? routes[index] : nil
    }

    /// The statuses the service can answer `method` on `path` with.
    public static func statuses(path: Substring, method: HTTPMethod) -> [HTTPStatus] {
        route(at: match(path).index)?.statuses(for: method) ?? [.notFound]
    }
}
