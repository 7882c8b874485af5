import Foundation
import Postgres

extension TestDatabase {
    /// The Citus workers of this run, from `CRM_TESTS_CITUS_WORKERS` (libpq URIs separated by
    /// spaces: `make test-citus` sets the two of scripts/citus-cluster.sh), with `DATABASE_URL`
    /// the coordinator; empty: plain PostgreSQL.
    public static var citusWorkers: [String] {
        (ProcessInfo.processInfo.environment["CRM_TESTS_CITUS_WORKERS"] ?? "").split(separator: " ").map(String.init)
    }

    /// Whether this run's database is a Citus coordinator.
    public static var isCitus: Bool { !citusWorkers.isEmpty }

    /// Makes the new database `name` a Citus database (scripts/citus-cluster.sh `create-db`):
    /// created on every worker with the citus extension, then the extension on the coordinator,
    /// which learns its own address and the workers'. Nothing on plain PostgreSQL.
    static func bootstrapCitus(_ name: String, coordinator: String) async throws {
        let workers = citusWorkers
        guard !workers.isEmpty else { return }
        for worker in workers {
            let admin = try await PostgresConnection.connect(PostgresConfiguration(connectionString: worker), on: loop)
            try await admin.simpleQuery("CREATE DATABASE \(name)")
            await admin.close()
            let database = try await PostgresConnection.connect(
                PostgresConfiguration(connectionString: worker, overrides: ["dbname": name]), on: loop)
            try await database.simpleQuery("CREATE EXTENSION citus")
            await database.close()
        }
        let connection = try await PostgresConnection.connect(
            PostgresConfiguration(connectionString: coordinator, overrides: ["dbname": name]), on: loop)
        defer { Task { await connection.close() } }
        try await connection.simpleQuery("CREATE EXTENSION citus")
        let (host, port) = try address(of: coordinator)
        try await connection.query("SELECT citus_set_coordinator_host($1, $2::int)", [host, port])
        for worker in workers {
            let (host, port) = try address(of: worker)
            try await connection.query("SELECT citus_add_node($1, $2::int)", [host, port])
        }
    }

    /// A session on the node that holds `listing`'s rows: on Citus, the worker with its shard of
    /// `contacts` (where a delegated write runs, and so takes its locks); else this database.
    public func connectToListingNode(_ listing: Int64, applicationName: String) async throws -> PostgresConnection {
        guard Self.isCitus else { return try await connect(applicationName: applicationName) }
        let coordinator = try await connect(applicationName: applicationName)
        let node = try await coordinator.query("""
            SELECT nodename, nodeport FROM citus_shards
             WHERE shardid = get_shard_id_for_distribution_column('contacts', $1::bigint) LIMIT 1
            """, [listing])
        await coordinator.close()
        let host = try node[0].decode(String.self, column: 0), port = try node[0].decode(Int.self, column: 1)
        var configuration = self.configuration
        configuration.overrides.merge(["host": host, "port": String(port)]) { $1 }
        configuration.applicationName = applicationName
        return try await PostgresConnection.connect(configuration, on: Self.loop)
    }

    /// Drops `name` on every Citus worker (the coordinator's is dropped as on plain PostgreSQL).
    static func dropOnCitusWorkers(_ name: String) async {
        for worker in citusWorkers {
            guard let admin = try? await PostgresConnection.connect(PostgresConfiguration(connectionString: worker), on: loop) else { continue }
            _ = try? await admin.simpleQuery("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            await admin.close()
        }
    }

    /// A node's host and port as libpq reads them from its connection string.
    private static func address(of connectionString: String) throws -> (String, Int) {
        let settings = try ConnectionString.settings(of: connectionString)
        let host = settings.first { $0.keyword == "host" }?.value ?? "127.0.0.1"
        let port = settings.first { $0.keyword == "port" }.flatMap { Int($0.value) } ?? 5432
        return (host, port)
    }
}
