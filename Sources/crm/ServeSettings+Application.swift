import Contacts
import FoundationEssentials
import HTTP
import Operations
import Postgres

extension ServeSettings {
    /// The application `crm serve` runs: these settings, the database options, the checkout's
    /// openapi.yaml, and logs on standard output (access) and standard error (errors).
    func application(database: DatabaseOptions) throws -> ApplicationConfiguration {
        var connection = try database.postgres
        connection.statementTimeout = statementTimeout > 0 ? .seconds(statementTimeout) : nil
        var http = HTTPServerConfiguration(host: host, port: port)
        http.limits.maxBodyBytes = maxBodyBytes
        http.requestTimeout = .seconds(requestTimeout)
        http.idleTimeout = .seconds(idleTimeout)
        http.maxConnections = maxConnections
        http.handlerTimeout = .seconds(handlerTimeout)
        http.maxBufferedBytes = maxBufferedBytes
        var configuration = ApplicationConfiguration(
            database: connection,
            pool: ConnectionPoolConfiguration(maxConnections: poolSize, acquireTimeout: .seconds(acquireTimeout)),
            http: http,
            trustedProxies: trustedProxies,
            openAPIDocument: FileManager.default.contents(atPath: CheckoutFile.path("openapi.yaml")).map(Array.init) ?? [],
            keyGate: .init(burst: rateLimitBurst, authFailureRate: authFailureRate, shareInterval: rateLimitShareMilliseconds > 0 ? .milliseconds(rateLimitShareMilliseconds) : nil),
            accessLog: AccessLog(format: logFormat),
            errorLog: ErrorLog(format: logFormat))
        configuration.changeRetentionDays = changeRetentionDays
        configuration.webhookAllowPrivate = webhookAllowPrivate
        configuration.webhooks = webhooks
        configuration.listenDatabase = database.listenPostgres
        configuration.imports = imports
        return configuration
    }
}
