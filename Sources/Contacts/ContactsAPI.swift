import HTTP
import Operations
import Postgres

/// The service's endpoints, as ``RouteTable`` names them: `/crm/{listing_id}` (the contacts
/// API), `/healthz`, `/readyz`, `/metrics` and `/openapi.yaml`. Every body but the document's
/// and the metrics' is JSON in the contract's shape. Handlers throw ``APIError`` (or any error:
/// ``ErrorMiddleware`` maps it) and know nothing of the middleware around them.
///
/// The order of checks for `/crm/{listing_id}`: method (`405`) and listing id (`400`) in the
/// ``Router``, then the key gate (``KeyGateMiddleware``: a key that is not live is a `403`
/// before anything else runs), then here the `Authorization` header's presence (`403`) and
/// the key's grant and scope (`403`) before parameters (`400`, `415`). A valid request costs one
/// database round trip that checks the grant and does the work; a request whose parameters
/// fail validation asks for the grant first, so a caller without one gets `403` whatever it sent.
public struct ContactsAPI: Sendable {
    public let store: ContactStore
    /// Peers whose `X-Forwarded-For` is believed (exact addresses, e.g. a load balancer).
    public let trustedProxies: Set<String>
    /// The OpenAPI document served at `/openapi.yaml`.
    public let openAPIDocument: [UInt8]
    /// Served at `/metrics`.
    public let metrics: MetricsRegistry
    /// Database errors by class, from the operations, the key lookups and the readiness pings
    /// (exported as `crm_db_errors_total` with the key gate's, ``ServiceMetrics``), and the
    /// background work's (purges, webhook delivery).
    public let databaseErrors: DatabaseErrorCounter
    /// `/readyz`'s ping: one in flight at a time, waited for at most `readinessTimeout`.
    public let readinessProbe: ReadinessProbe
    /// `/crm/{listing_id}/changes`' reads.
    public let changeFeed: ChangeFeed
    /// The listing's webhook endpoints.
    public let webhookStore: WebhookStore
    /// Which hosts a webhook may call (`--webhook-allow-private`).
    public let webhookAddresses: AddressPolicy
    /// Uploads, import jobs and their rejected rows (API.md §12).
    public let imports: ImportStore
    /// This process's import worker, woken by each upload; nil when it runs no jobs.
    public let importWorker: ImportWorker?
    /// Rows an upload may hold.
    public let maxImportRows: Int

    public init(store: ContactStore, metrics: MetricsRegistry = MetricsRegistry(), trustedProxies: Set<String> = [],
                openAPIDocument: [UInt8] = [], readinessTimeout: Duration = .seconds(1),
                webhookAddresses: AddressPolicy = AddressPolicy(allowsPrivate: false),
                databaseErrors: DatabaseErrorCounter = DatabaseErrorCounter(),
                importWorker: ImportWorker? = nil, maxImportRows: Int = ImportSettings().maxRows) {
        self.store = store
        self.databaseErrors = databaseErrors
        self.metrics = metrics
        self.trustedProxies = trustedProxies
        self.openAPIDocument = openAPIDocument
        readinessProbe = ReadinessProbe(pool: store.pool, timeout: readinessTimeout, errors: databaseErrors)
        changeFeed = ChangeFeed(pool: store.pool)
        webhookStore = WebhookStore(pool: store.pool)
        self.webhookAddresses = webhookAddresses
        imports = ImportStore(pool: store.pool)
        self.importWorker = importWorker
        self.maxImportRows = maxImportRows
    }

    /// `/healthz`'s answer, built once: it is what load balancers poll.
    static let healthy = APIResponse.success(200, "The service is running.")

    /// `200` when the database answers a ping within the readiness timeout, else `503`
    /// (``ReadinessProbe``: one ping in flight, shared by every caller meanwhile).
    func readiness() async -> HTTPResponse {
        await readinessProbe.check() ? APIResponse.success(200, "The database answers.") : APIResponse.error(.unavailable)
    }

    func metricsPage() -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, body: Array(metrics.render().utf8))
    }

    func openAPIPage() -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "application/yaml; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, body: openAPIDocument)
    }

    /// `/crm/{listing_id}`, past the router's checks and the key gate.
    func contacts(_ context: RequestContext) async throws -> HTTPResponse {
        guard let listing = context.listing, let key = context.presentedKey else { throw APIError.forbidden }
        let (operation, idempotency) = try await validated(key.digest, listing: listing, scope: context.requiredScope) {
            () throws(APIError) -> (ContactOperation, IdempotencyKey?) in
            let parameters = try RequestParameters(context.request)
            let operation = try ContactOperation(method: context.request.method, parameters: parameters,
                                                 clientAddress: clientAddress(of: context.request))
            // Only a POST creates something a retry could create twice: PUT and DELETE are
            // idempotent by themselves, so the header is ignored on them.
            let idempotency = context.request.method == .post
                ? try IdempotencyKey(headers: context.request.headers, method: .post, listing: listing, parameters: parameters)
                : nil
            return (operation, idempotency)
        }
        return try await perform(operation, keyHash: key.digest, listing: listing, idempotency: idempotency,
                                 actor: ChangeActor(keyPrefix: key.prefix, requestID: context.requestID))
    }
}
