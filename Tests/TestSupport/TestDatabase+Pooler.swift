import Foundation
import Postgres

extension TestDatabase {
    /// The connection pooler the application's connections go through in this run, from
    /// `CRM_TESTS_POOLER` (libpq keywords, e.g. `host=127.0.0.1 port=16432`: the PgBouncer that
    /// `make test-pgbouncer` starts in transaction pooling mode); nil: straight to the server.
    public static var pooler: [String: String]? {
        guard let text = ProcessInfo.processInfo.environment["CRM_TESTS_POOLER"], !text.isEmpty else { return nil }
        var keywords: [String: String] = [:]
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { keywords[String(parts[0])] = String(parts[1]) }
        }
        return keywords
    }

    /// How the application under test reaches this database: through ``pooler`` when there is
    /// one, with `--statement-mode unnamed` as `crm serve` needs there; else straight.
    /// The tests' own connections (setting up, checking tables) always go straight.
    public var applicationConfiguration: PostgresConfiguration {
        var configuration = self.configuration
        guard let pooler = Self.pooler else { return configuration }
        configuration.overrides.merge(pooler) { $1 }
        configuration.statementMode = .unnamed
        return configuration
    }

    /// Gives the server's sessions for this database `timeout` as their statement and lock
    /// timeouts, when the application goes through ``pooler``: PgBouncer drops the startup
    /// `options` the service sends them in, so behind it they are set on the database (or the
    /// role), as README "Scaling out" tells operators. PgBouncer opens server connections to a
    /// new database afresh, and they start with these settings.
    public func setPooledTimeouts(_ timeout: Duration?) async throws {
        guard Self.pooler != nil, let timeout else { return }
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let connection = try await connect()
        try await connection.simpleQuery("""
            ALTER DATABASE \(name) SET statement_timeout = \(milliseconds);
            ALTER DATABASE \(name) SET lock_timeout = \(milliseconds)
            """)
        await connection.close()
    }
}
