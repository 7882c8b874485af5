/// Applies pending ``Migration``s, each in its own transaction and each exactly once, recording
/// them in `schema_migrations` (version, name, SHA-256 of the text, time applied).
///
/// A transaction-level advisory lock serialises migrators: several processes starting at once
/// (replicas of `crm serve`, a `crm migrate` beside them) all succeed and each migration is
/// applied once; a migrator that waited finds it recorded, and skips it. The lock is taken in
/// each migration's own transaction, never held by the session, so this works through a
/// transaction pooler (PgBouncer), where consecutive statements outside a transaction may run
/// on different server connections. A migration whose file changed after it was applied stops
/// the run, since applied files must never be edited.
public struct Migrator: Sendable {
    /// The advisory lock key: the bytes of "crm-migr" as a 64-bit integer.
    static let lockKey: Int64 = 0x63726D2D6D696772

    public let migrations: [Migration]
    /// Applied after the migrations where the citus extension is installed; nil: never.
    public let distribution: CitusDistribution?

    public init(migrations: [Migration], distribution: CitusDistribution? = nil) {
        self.migrations = migrations
        self.distribution = distribution
    }

    /// The migrations of `directory` and its Citus distribution (`citus/distribute.sql`).
    public static func load(from directory: String) throws -> Migrator {
        Migrator(migrations: try Migration.load(from: directory), distribution: CitusDistribution.load(from: directory))
    }

    /// Brings the database up to date; returns the migrations this call applied.
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> [Migration] {
        var applied: [Migration] = []
        for migration in try await pending(on: connection) where try await apply(migration, on: connection) {
            applied.append(migration)
        }
        try await distribution?.apply(on: connection)
        return applied
    }

    /// The migrations not yet applied, after checking the applied ones still match their files.
    public func pending(on connection: PostgresConnection) async throws -> [Migration] {
        try await connection.transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock($1)", [Self.lockKey])
            try await connection.simpleQuery("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        }
        let rows = try await connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        var appliedVersions: Set<Int> = []
        for row in rows.rows {
            let version = try row.decode(Int.self, column: 0)
            let name = try row.decode(String.self, column: 1)
            guard let migration = migrations.first(where: { $0.version == version }) else {
                throw MigrationError(reason: .unknownAppliedMigration, detail: "applied migration \(name) is not among this build's files")
            }
            let current = try await checksum(of: migration, on: connection)
            guard current == (try row.decode(String.self, column: 2)) else {
                throw MigrationError(reason: .appliedMigrationChanged, detail: "\(migration.name) changed after it was applied as \(name)")
            }
            appliedVersions.insert(version)
        }
        return migrations.filter { !appliedVersions.contains($0.version) }
    }

    /// Applies `migration` in a transaction holding the migrators' lock, unless another
    /// migrator recorded it meanwhile; returns whether this call applied it.
    private func apply(_ migration: Migration, on connection: PostgresConnection) async throws -> Bool {
        do {
            return try await connection.transaction { connection in
                try await connection.query("SELECT pg_advisory_xact_lock($1)", [Self.lockKey])
                let recorded = try await connection.query("SELECT 1 FROM schema_migrations WHERE version = $1", [migration.version])
                guard recorded.rowCount == 0 else { return false }
                try await connection.simpleQuery(migration.sql)
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
                    [migration.version, migration.name, migration.sql])
                return true
            }
        } catch let error as PostgresError {
            throw MigrationError(reason: .statementFailed, detail: "migration \(migration.name) failed", underlying: error)
        }
    }

    private func checksum(of migration: Migration, on connection: PostgresConnection) async throws -> String {
        let result = try await connection.query("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", [migration.sql])
        return try result[0].decode(String.self, column: 0)
    }
}
