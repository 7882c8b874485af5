import ArgumentParser
import Contacts
import FoundationEssentials
import Glibc
import HTTP
import Postgres
import Reactor

/// `crm serve`: applies pending migrations, then serves the API until SIGTERM/SIGINT.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Apply pending migrations, then serve the API."
    )

    @Option(help: "Address to listen on: :: (IPv6 and IPv4), 0.0.0.0, 127.0.0.1, … (env: CRM_HOST; default ::).")
    var host: String?
    @Option(help: "Port (env: CRM_PORT; default 8080).")
    var port: Int?
    @Option(name: .customLong("pool-size"), help: "PostgreSQL connections at most (env: CRM_POOL_SIZE; default 16).")
    var poolSize: Int?
    @Option(name: .customLong("trusted-proxy"),
            help: "A proxy address whose X-Forwarded-For is believed; repeat for several (env: CRM_TRUSTED_PROXIES, comma-separated).")
    var trustedProxies: [String] = []
    @Option(name: .customLong("event-loops"), help: "HTTP event loop threads (env: CRM_EVENT_LOOPS; default: one per core).")
    var eventLoops: Int?
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let settings = try ServeSettings(command: self)
        let (applied, total) = try await database.migrate()
        log("schema: \(applied.count) migration(s) applied, \(total) in all")

        let pool = ConnectionPool(
            configuration: ConnectionPoolConfiguration(maxConnections: settings.poolSize, acquireTimeout: .seconds(5)),
            connection: database.postgres, loop: EventLoop(name: "pg-loop"))
        let document = FileManager.default.contents(atPath: CheckoutFile.path("openapi.yaml")).map(Array.init) ?? []
        let api = ContactsAPI(store: ContactStore(pool: pool), trustedProxies: settings.trustedProxies, openAPIDocument: document)
        var configuration = HTTPServerConfiguration(host: settings.host, port: settings.port)
        configuration.eventLoops = settings.eventLoops
        configuration.errorResponse = ContactsAPI.protocolErrorResponse
        let server = HTTPServer(configuration: configuration, handler: api.handle)
        try server.start()
        log("listening on \(settings.host) port \(server.port)")

        let signal = await TerminationSignals.wait()
        log("signal \(signal): finishing requests in flight")
        await server.shutdown(gracePeriod: .seconds(10))
        await pool.shutdown()
        log("stopped")
    }

    private func log(_ line: String) {
        FileHandleOutput.standardError("crm: \(line)\n")
    }
}

/// `crm serve`'s settings: flag, else environment, else default.
struct ServeSettings {
    let host: String
    let port: Int
    let poolSize: Int
    let eventLoops: Int
    let trustedProxies: Set<String>

    init(command: ServeCommand) throws {
        host = command.host ?? Environment.value("CRM_HOST") ?? "::"
        port = try command.port ?? Self.integer("CRM_PORT") ?? 8080
        poolSize = try command.poolSize ?? Self.integer("CRM_POOL_SIZE") ?? 16
        eventLoops = try command.eventLoops ?? Self.integer("CRM_EVENT_LOOPS") ?? max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let proxies = command.trustedProxies.isEmpty
            ? (Environment.value("CRM_TRUSTED_PROXIES") ?? "").split(separator: ",").map { String($0.filter { $0 != " " }) }
            : command.trustedProxies
        trustedProxies = Set(proxies.filter { !$0.isEmpty })
        guard (0...65535).contains(port) else { throw ValidationError("the port must be from 0 to 65535") }
        guard poolSize > 0 else { throw ValidationError("the pool size must be positive") }
        guard eventLoops > 0 else { throw ValidationError("event loops must be positive") }
    }

    private static func integer(_ name: String) throws -> Int? {
        guard let text = Environment.value(name) else { return nil }
        guard let value = Int(text) else { throw ValidationError("\(name) must be a whole number, not \(text)") }
        return value
    }
}

/// Writes to standard error without buffering (progress lines of `crm serve`).
enum FileHandleOutput {
    static func standardError(_ text: String) {
        var bytes = Array(text.utf8)
        _ = write(2, &bytes, bytes.count)
    }
}
