import Contacts
import Dispatch
import Foundation
import HTTP
import Operations
import Postgres
import Reactor
import Synchronization
import TestSupport
import XCTest

/// The whole service as a user meets it: a scratch database with the project's migrations, the
/// contacts API on a real HTTP server on an ephemeral port, and three keys: `keyA` for listing
/// 1, `keyB` for listing 2, `keyAB` for both. Tests are synchronous and talk raw HTTP over TCP;
/// TestSupport's `blocking` runs the database checks.
class ContactsTestCase: XCTestCase {
    var database: TestDatabase!
    var pool: ConnectionPool!
    var server: HTTPServer!
    var keyA: APIKey!
    var keyB: APIKey!
    var keyAB: APIKey!
    var metrics: MetricsRegistry!
    /// The access log lines the service wrote.
    let accessLog = LineCapture()
    /// Peers whose X-Forwarded-For is trusted; override before `setUp` runs.
    var trustedProxies: Set<String> { [] }
    /// The error log lines the service wrote.
    let errorLog = LineCapture()
    /// The service as `crm serve` wires it, and its key gate, as `setUp` made them.
    var application: CRMApplication!
    var keys: KeyGate!
    /// The event loops of the application's server and pool.
    private var loops: [EventLoop] = []
    /// Burst for rate-limited keys; override before `setUp` runs.
    var rateLimitBurst: Int? { nil }
    /// The service's pool size; override before `setUp` runs.
    var poolSize: Int { 8 }
    /// The pooled connections' statement and lock timeout; override before `setUp` runs.
    var statementTimeout: Duration? { nil }
    /// True to run on a PostgreSQL cluster of the test's own (``cluster``), which the test may
    /// stop and start; override before `setUp` runs.
    var usesOwnCluster: Bool { false }
    /// The test's own cluster, when ``usesOwnCluster``.
    var cluster: TemporaryPostgresCluster?
    /// Every answer of the server, held to `RouteTable.routes` and openapi.yaml in tearDown.
    let responses = ResponseRecorder()
    /// Refused authentications allowed per address and second; override before `setUp` runs
    /// (0: no limit, so tests that send many bad keys are not throttled).
    var authFailureRate: Int { 0 }

    /// How long `/readyz` waits for the database; override before `setUp` runs.
    var readinessTimeout: Duration { .seconds(1) }
    /// The server's handler deadline; override before `setUp` runs.
    var handlerTimeout: Duration { .seconds(15) }

    /// Webhook delivery; none unless a test turns it on (an endpoint another test adds must not
    /// be called). Override before `setUp` runs.
    var webhookSettings: WebhookSettings { WebhookSettings(workers: 0) }
    /// Whether webhooks may call loopback addresses (the tests' receivers listen there).
    var webhookAllowPrivate: Bool { false }

    /// How the application takes uploads and runs imports: limits small enough for a test to
    /// pass them (60,000 rows, 8 MiB); jobs run only for a test that asks (``importWorkers``).
    var importSettings: ImportSettings {
        ImportSettings(maxBytes: 8 << 20, maxRows: 60_000, workers: importWorkers, pollInterval: .milliseconds(200))
    }
    var importWorkers: Int { 0 }

    /// The key gate's settings; override for other capacities.
    var keyGateSettings: ApplicationConfiguration.KeyGateSettings {
        .init(burst: rateLimitBurst, authFailureRate: authFailureRate)
    }

    override func setUp() async throws {
        if usesOwnCluster {
            _ = try TestDatabase.baseURL()  // the same precondition as every database test
            let cluster = try TemporaryPostgresCluster()
            self.cluster = cluster
            try cluster.start()
            database = try await TestDatabase.create(on: cluster.connectionString)
        } else {
            database = try await TestDatabase.create()
        }
        let admin = try await database.connect()
        let store = AdminStore(connection: admin)
        keyA = try await store.createKey(listings: [1], name: "a", rateLimit: nil)
        keyB = try await store.createKey(listings: [2], name: "b", rateLimit: nil)
        keyAB = try await store.createKey(listings: [1, 2], name: "ab", rateLimit: nil)
        await admin.close()
        var connection = usesOwnCluster ? database.configuration : database.applicationConfiguration
        connection.statementTimeout = statementTimeout
        if !usesOwnCluster { try await database.setPooledTimeouts(statementTimeout) }
        var configuration = ApplicationConfiguration(
            database: connection, pool: .init(maxConnections: poolSize),
            http: HTTPServerConfiguration(host: "::", port: 0, eventLoops: 2), trustedProxies: trustedProxies,
            openAPIDocument: FileManager.default.contents(atPath: Self.repositoryFile("openapi.yaml")).map(Array.init) ?? [],
            readinessTimeout: readinessTimeout, keyGate: keyGateSettings)
        configuration.http.handlerTimeout = handlerTimeout
        configuration.webhooks = webhookSettings
        configuration.listenDatabase = database.configuration  // straight, also when the pool goes through PgBouncer
        configuration.webhookAllowPrivate = webhookAllowPrivate
        configuration.imports = importSettings
        let capture = accessLog, errors = errorLog
        configuration.accessLog = AccessLog(format: .logfmt, flushInterval: nil) { capture.append(String(decoding: $0, as: UTF8.self)) }
        configuration.errorLog = ErrorLog(format: .logfmt, writesInBackground: false) { errors.append(String(decoding: $0, as: UTF8.self)) }
        configuration.outerMiddleware = [responses]
        configuration.protocolErrorObserver = responses.recordProtocolError
        loops = (0..<2).map { EventLoop(name: "test-loop-\($0)") }
        let application = CRMApplication(configuration: configuration, loops: loops)
        self.application = application
        pool = application.pool
        server = application.server
        metrics = application.metrics
        keys = application.keys
        try application.start()
    }

    override func tearDown() async throws {
        await application?.webhooks.stop(gracePeriod: .seconds(2))
        await application?.importWorker?.stop()
        await server?.shutdown(gracePeriod: .seconds(2))
        await pool?.shutdown()
        loops.forEach { $0.shutdown() }
        await database?.drop()
        cluster?.destroy()
        // Every answer of this test against the route table and the documented contract.
        var reported: Set<String> = []
        for problem in responses.problems() where reported.insert(problem).inserted {
            XCTFail("contract: \(problem)")
            if reported.count == 20 { XCTFail("contract: (further problems not shown)"); break }
        }
    }

    static func repositoryFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(name).path
    }

    // MARK: Requests

    /// A request body and its Content-Type.
    enum Body: Sendable {
        case none
        case form([(String, String)])
        case json(String)
        case multipart([(String, String)])
        case raw(contentType: String?, bytes: [UInt8])
    }

    /// Sends one request on a new connection and reads the response.
    @discardableResult
    func call(_ method: String, _ target: String, key: APIKey?, body: Body = .none, headers: [(String, String)] = [],
              host: String = "127.0.0.1") throws -> RawHTTPClient.Response {
        try Self.call(port: server.port, method, target, key: key, body: body, headers: headers, host: host)
    }

    /// ``call(_:_:key:body:headers:host:)`` without the test case, for concurrent clients.
    static func call(port: Int, _ method: String, _ target: String, key: APIKey?, body: Body = .none,
                     headers: [(String, String)] = [], host: String = "127.0.0.1") throws -> RawHTTPClient.Response {
        let client = try RawHTTPClient(port: port, host: host)
        var head = "\(method) \(target) HTTP/1.1\r\nHost: test\r\n"
        if let key { head += "Authorization: Bearer \(key.text)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let (contentType, bytes) = encode(body)
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        if !bytes.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(bytes.count)\r\n" }
        try client.send(Array((head + "\r\n").utf8) + bytes)
        return try client.readResponse(bodyless: method == "HEAD")
    }

    /// POST with a form body.
    @discardableResult
    func post(_ listing: Int64, _ fields: [(String, String)], key: APIKey? = nil) throws -> RawHTTPClient.Response {
        try call("POST", "/crm/\(listing)", key: key ?? keyFor(listing), body: .form(fields))
    }

    @discardableResult
    func put(_ listing: Int64, _ fields: [(String, String)], key: APIKey? = nil) throws -> RawHTTPClient.Response {
        try call("PUT", "/crm/\(listing)", key: key ?? keyFor(listing), body: .form(fields))
    }

    @discardableResult
    func delete(_ listing: Int64, _ fields: [(String, String)], key: APIKey? = nil) throws -> RawHTTPClient.Response {
        try call("DELETE", "/crm/\(listing)", key: key ?? keyFor(listing), body: .form(fields))
    }

    func get(_ listing: Int64, _ query: String = "", key: APIKey? = nil) throws -> RawHTTPClient.Response {
        try call("GET", "/crm/\(listing)" + (query.isEmpty ? "" : "?" + query), key: key ?? keyFor(listing))
    }

    func keyFor(_ listing: Int64) -> APIKey { listing == 1 ? keyA : keyB }

    static func encode(_ body: Body) -> (String?, [UInt8]) {
        switch body {
        case .none: return (nil, [])
        case .form(let fields): return ("application/x-www-form-urlencoded", Array(formEncode(fields).utf8))
        case .json(let text): return ("application/json", Array(text.utf8))
        case .multipart(let fields):
            let boundary = "----crmtestboundary7MA4YWxk"
            var text = ""
            for (name, value) in fields {
                text += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
            }
            text += "--\(boundary)--\r\n"
            return ("multipart/form-data; boundary=\(boundary)", Array(text.utf8))
        case .raw(let contentType, let bytes): return (contentType, bytes)
        }
    }

    static func formEncode(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return fields.map { name, value in
            let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
            return encode(name) + "=" + encode(value)
        }.joined(separator: "&")
    }

    // MARK: Database checks

    /// The number of contacts in `listing` (all listings when nil), straight from the table.
    func contactCount(_ listing: Int64? = nil) throws -> Int {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect()
            let count = try await connection.query(
                "SELECT count(*) FROM contacts WHERE $1::bigint IS NULL OR listing_id = $1", [listing])[0].decode(Int.self, column: 0)
            await connection.close()
            return count
        }
    }

    /// Every row of `contacts` (of `listing`, or all) with every column, as JSON text, in id
    /// order: what a test that claims "nothing changed" compares before and after.
    func contactsTable(_ listing: Int64? = nil) throws -> [String] {
        try textRows("SELECT to_jsonb(c)::text FROM contacts c WHERE $1::bigint IS NULL OR listing_id = $1 ORDER BY contact_id",
                     [listing])
    }

    /// Column 0 of every row of `query`, as text, straight from the database.
    func textRows(_ query: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> [String] {
        let database = self.database!
        let values = parameters.map { $0?.postgresText }
        return try blocking {
            let connection = try await database.connect()
            let rows = try await connection.query(query, values).rows.map { try $0.decode(String.self, column: 0) }
            await connection.close()
            return rows
        }
    }

    /// A key granted `listings` with exactly `scopes` (API.md §8).
    func createKey(listings: [Int64] = [1], scopes: [KeyScope]) throws -> APIKey {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect()
            let key = try await AdminStore(connection: connection).createKey(listings: listings, name: "scoped", rateLimit: nil, scopes: scopes)
            await connection.close()
            return key
        }
    }

    /// Runs SQL against the test database (setup such as blacklist entries).
    func sql(_ text: String, _ parameters: [(any PostgresEncodable)?] = []) throws {
        let database = self.database!
        let values = parameters.map { $0?.postgresText }
        try blocking {
            let connection = try await database.connect()
            try await connection.query(text, values)
            await connection.close()
        }
    }

    /// The `data.contact` object of a response.
    func contact(_ response: RawHTTPClient.Response) -> [String: Any] {
        ((response.json["data"] as? [String: Any])?["contact"] as? [String: Any]) ?? [:]
    }

    func data(_ response: RawHTTPClient.Response) -> [String: Any] {
        (response.json["data"] as? [String: Any]) ?? [:]
    }
}
