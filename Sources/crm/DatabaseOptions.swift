import ArgumentParser
import FoundationEssentials
import Postgres

/// Options every command that talks to PostgreSQL shares.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"),
            help: "libpq connection string or postgres:// URI (env: DATABASE_URL; empty: libpq's PG* defaults).")
    var databaseURL: String?

    @Option(name: .customLong("migrations"),
            help: "Directory of the NNN_*.sql migration files (env: CRM_MIGRATIONS_DIR; default: ./sql, else the source tree's sql/).")
    var migrationsDirectory: String?

    var postgres: PostgresConfiguration {
        PostgresConfiguration(connectionString: databaseURL ?? Environment.value("DATABASE_URL") ?? "")
    }

    /// The migrations directory: flag, environment, `./sql`, then the `sql/` of the checkout this
    /// binary was built from (so `.build/debug/crm migrate` works from any directory).
    var resolvedMigrationsDirectory: String {
        if let migrationsDirectory { return migrationsDirectory }
        if let fromEnvironment = Environment.value("CRM_MIGRATIONS_DIR") { return fromEnvironment }
        if FileManager.default.fileExists(atPath: "sql") { return "sql" }
        // #filePath is …/Sources/crm/DatabaseOptions.swift; the checkout's root is three levels up.
        let components = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        return components.dropLast(3).joined(separator: "/") + "/sql"
    }
}

/// Reads configuration from the process environment; an empty variable counts as unset.
enum Environment {
    static func value(_ name: String) -> String? {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
        return value
    }
}
