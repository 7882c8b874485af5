/// Applies pending ``Migration``s, each in its own transaction and each exactly once, recording
/// them in `schema_migrations` (version, name, SHA-256 of the text, time applied).
///
/// A session-level advisory lock serialises migrators: several processes starting at once
/// (replicas of `crm serve`, a `crm migrate` beside them) all succeed and the schema is applied
/// once; the ones that waited find nothing left to do. A migration whose file changed after it
/// was applied stops the run, since applied files must never be edited.
public struct Migrator: Sendable {
    /// The advisory lock key: the bytes of "crm-migr" as a 64-bit integer.
    static let lockKey: Int64 = 0x63726D2D6D696772

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// Brings the database up to date; returns the migrations this call applied.
    @discardableResult
    public func migrate(on connection: PostgresConnection) async throws -> [Migration] {
        try await connection.query("SELECT pg_advisory_lock($1)", [Self.lockKey])
        do {
            let applied = try await pending(on: connection)
            for migration in applied {
                try await apply(migration, on: connection)
            }
            try await connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
            return applied
        } catch {
            // Closing the session would release the lock too; unlock so the connection stays usable.
            _ = try? await connection.query("SELECT pg_advisory_unlock($1)", [Self.lockKey])
            throw error
        }
    }

    /// The migrations not yet applied, after checking the applied ones still match their files.
    public func pending(on connection: PostgresConnection) async throws -> [Migration] {
        try await connection.simpleQuery("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
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

    private func apply(_ migration: Migration, on connection: PostgresConnection) async throws {
        do {
            try await connection.transaction { connection in
                try await connection.simpleQuery(migration.sql)
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, encode(sha256(convert_to($3, 'UTF8')), 'hex'))",
                    [migration.version, migration.name, migration.sql])
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
