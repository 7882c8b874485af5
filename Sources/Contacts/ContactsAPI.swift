import HTTP
import Operations
import Postgres

/// The service's HTTP handler: `/crm/{listing_id}` (the contacts API), `/healthz`, `/readyz`
/// and `/openapi.yaml`; anything else is a `404`. Every body is JSON in the contract's shape.
///
/// The order of checks for `/crm/{listing_id}`: method (`405`), listing id (`400`), the
/// `Authorization` header's form (`403`, without asking the database), then, in
/// ``ContactsService``, the key gate (``KeyGate``: a key that is not live is a `403` before
/// anything else runs), then the key's grant (`403`) before parameters (`400`, `415`). A valid
/// request costs one database round trip that checks the grant and does the work; a request
/// whose parameters fail validation asks for the grant first, so a caller without one gets
/// `403` whatever it sent.
public struct ContactsAPI: Sendable {
    public let store: ContactStore
    /// Peers whose `X-Forwarded-For` is believed (exact addresses, e.g. a load balancer).
    public let trustedProxies: Set<String>
    /// The OpenAPI document served at `/openapi.yaml`.
    public let openAPIDocument: [UInt8]
    /// Database errors by class, from the operations and the readiness pings (``ContactsService``
    /// adds the key lookups', ``KeyGate/databaseErrors``, and exports them as `crm_db_errors_total`).
    public let databaseErrors = DatabaseErrorCounter()
    /// `/readyz`'s ping: one in flight at a time, waited for at most `readinessTimeout`.
    public let readinessProbe: ReadinessProbe

    public init(store: ContactStore, trustedProxies: Set<String> = [], openAPIDocument: [UInt8] = [],
                readinessTimeout: Duration = .seconds(1)) {
        self.store = store
        self.trustedProxies = trustedProxies
        self.openAPIDocument = openAPIDocument
        readinessProbe = ReadinessProbe(pool: store.pool, timeout: readinessTimeout, errors: databaseErrors)
    }

    /// The route templates metrics and the access log name requests by (never raw paths).
    public static let routeTemplates = routes.map(\.template)

    /// The index in ``routes`` (and ``routeTemplates``) of the route `path` belongs to.
    public static func routeIndex(_ path: Substring) -> Int {
        if path.hasPrefix("/crm/"), !path.dropFirst("/crm/".count).contains("/") { return 0 }
        switch path {
        case "/healthz": return 1
        case "/readyz": return 2
        case "/metrics": return 3
        case "/openapi.yaml": return 4
        default: return 5
        }
    }

    /// `/healthz`'s answer, built once: it is what load balancers poll.
    static let healthy = APIResponse.success(200, "The service is running.", data: "")

    /// The HTTP server's own error responses (400, 408, 413, 431, …) in the API's shape.
    public static let protocolErrorResponse: @Sendable (HTTPProtocolError) -> HTTPResponse = APIResponse.protocolError

    /// Answers one request; never throws (unexpected errors become `500` with no detail).
    @Sendable
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        await handle(request, presentedKey: APIKey.fromAuthorization(request.headers["Authorization"]))
    }

    /// ``handle(_:)`` with the `Authorization` header already read.
    public func handle(_ request: HTTPRequest, presentedKey: APIKey?) async -> HTTPResponse {
        await answer(request, presentedKey: presentedKey).response
    }

    /// The response and, when the request failed, why (``RequestFailure`` decides the answer;
    /// database errors are counted in ``databaseErrors`` here). ``ContactsService`` calls this
    /// with the key it has already read, and logs the failures that became a `500`.
    func answer(_ request: HTTPRequest, presentedKey: APIKey?) async -> (response: HTTPResponse, failure: RequestFailure?) {
        do {
            return (try await route(request, presentedKey: presentedKey), nil)
        } catch let error as APIError {
            return (APIResponse.error(error), nil)
        } catch {
            let failure = RequestFailure(error)
            databaseErrors.record(error)
            return (APIResponse.error(failure.answer), failure)
        }
    }

    private func route(_ request: HTTPRequest, presentedKey: APIKey?) async throws -> HTTPResponse {
        let path = request.path
        if path.hasPrefix("/crm/"), !path.dropFirst("/crm/".count).contains("/") {
            return try await contacts(request, listingText: path.dropFirst("/crm/".count), presentedKey: presentedKey)
        }
        let route = Self.routes[Self.routeIndex(path)]
        guard route.serves(request.method.rawValue) else {
            guard route.otherMethodStatus == 405 else { throw APIError.routeNotFound }
            var response = APIResponse.error(route.methodNotAllowed)
            response.headers.set("Allow", route.allow)
            return response
        }
        switch path {
        case "/healthz":
            return Self.healthy
        case "/readyz":
            return await readiness()
        case "/openapi.yaml":
            var headers = HTTPHeaders()
            headers.add("Content-Type", "application/yaml; charset=utf-8")
            return HTTPResponse(status: 200, headers: headers, body: openAPIDocument)
        default:
            // /metrics is answered by ContactsService, which holds the registry.
            throw APIError.routeNotFound
        }
    }

    /// `200` when the database answers a ping within the readiness timeout, else `503`
    /// (``ReadinessProbe``: one ping in flight, shared by every caller meanwhile).
    private func readiness() async -> HTTPResponse {
        await readinessProbe.check() ? APIResponse.success(200, "The database answers.", data: "") : APIResponse.error(.unavailable)
    }

    /// The checks of `/crm/{listing_id}` that need neither the key nor the database: the method
    /// (`405`), then the listing id (`400`). ``ContactsService`` makes them before its key gate.
    static func listing(of request: HTTPRequest, listingText: Substring) throws(APIError) -> Int64 {
        guard contactsRoute.serves(request.method.rawValue) else { throw APIError.methodNotAllowed }
        guard let listing = try ContactValidation.integer("listing_id", String(listingText), in: 1...Int64.max) else {
            throw APIError.invalid("listing_id", "listing_id must be a whole number from 1 to 9223372036854775807.")
        }
        return listing
    }

    private func contacts(_ request: HTTPRequest, listingText: Substring, presentedKey: APIKey?) async throws -> HTTPResponse {
        let method = request.method.rawValue
        let listing = try Self.listing(of: request, listingText: listingText)
        guard let key = presentedKey else { throw APIError.forbidden }
        let operation: ContactOperation
        do {
            operation = try ContactOperation(method: method, parameters: RequestParameters(request),
                                             clientAddress: clientAddress(of: request))
        } catch {
            // Who is asking comes before what is asked: a key without a grant learns nothing
            // about its parameters (one more round trip, only for requests that are refused).
            guard try await store.isGranted(keyHash: key.digest, listing: listing) else { throw APIError.forbidden }
            throw error
        }
        return try await perform(operation, keyHash: key.digest, listing: listing)
    }
}

