import ArgumentParser
import FoundationEssentials
import Postgres
import Reactor

/// Options every command that talks to PostgreSQL shares.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: "libpq connection string or postgres:// URI (env: DATABASE_URL; empty: libpq's PG* defaults).")
    var databaseURL: String?

    @Option(name: .customLong("listen-database-url"),
            help: "Where crm serve keeps its LISTEN session for webhook wake-ups, when DATABASE_URL is a transaction pooler such as PgBouncer (env: CRM_LISTEN_DATABASE_URL; default: DATABASE_URL).")
    var listenDatabaseURL: String?

    @Option(name: .customLong("migrations"),
            help: "Directory of the NNN_*.sql migration files (env: CRM_MIGRATIONS_DIR; default: ./sql, else the source tree's sql/).")
    var migrationsDirectory: String?

    @Option(name: .customLong("statement-mode"),
            help: "named (prepare once per connection) or unnamed (send the SQL each time, for PgBouncer transaction pooling) (env: CRM_STATEMENT_MODE; default named).")
    var statementMode: String?

    var postgres: PostgresConfiguration {
        get throws {
            let modeName = statementMode ?? Environment.value("CRM_STATEMENT_MODE") ?? "named"
            guard let mode = PostgresConfiguration.StatementMode(rawValue: modeName) else {
                throw ValidationError("--statement-mode must be named or unnamed, not '\(modeName)'")
            }
            return PostgresConfiguration(connectionString: databaseURL ?? Environment.value("DATABASE_URL") ?? "",
                                         statementMode: mode)
        }
    }

    /// Where the webhook listener's `LISTEN` session goes: nil means the same as ``postgres``.
    var listenPostgres: PostgresConfiguration? {
        guard let url = listenDatabaseURL ?? Environment.value("CRM_LISTEN_DATABASE_URL") else { return nil }
        return PostgresConfiguration(connectionString: url)
    }

    /// The migrations directory: flag, environment, `./sql`, then the `sql/` of the checkout this
    /// binary was built from (so `.build/debug/crm migrate` works from any directory).
    var resolvedMigrationsDirectory: String {
        migrationsDirectory ?? Environment.value("CRM_MIGRATIONS_DIR") ?? CheckoutFile.path("sql")
    }

    /// One connection on a loop of its own, for the administrative commands, to a database
    /// brought up to date first (so `crm key create` works before the first `crm serve`).
    func connect() async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(try postgres, on: EventLoop(name: "crm-admin"))
        do {
            try await Migrator.load(from: resolvedMigrationsDirectory).migrate(on: connection)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Applies pending migrations; returns those applied and how many there are in all.
    func migrate() async throws -> (applied: [Migration], total: Int) {
        let migrator = try Migrator.load(from: resolvedMigrationsDirectory)
        let connection = try await PostgresConnection.connect(try postgres, on: EventLoop(name: "crm-migrate"))
        do {
            let applied = try await migrator.migrate(on: connection)
            await connection.close()
            return (applied, migrator.migrations.count)
        } catch {
            await connection.close()
            throw error
        }
    }
}

/// Files the service reads at run time (`sql/`, `openapi.yaml`): from the working directory,
/// else from the checkout this binary was built from.
enum CheckoutFile {
    static func path(_ name: String) -> String {
        if FileManager.default.fileExists(atPath: name) { return name }
        // #filePath is …/Sources/crm/DatabaseOptions.swift; the checkout's root is three levels up.
        let components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        return components.dropLast(3).joined(separator: "/") + "/" + name
    }
}

/// Reads configuration from the process environment; an empty variable counts as unset.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
