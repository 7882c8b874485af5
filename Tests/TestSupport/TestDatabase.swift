import CLibPQ
import Foundation
import Postgres
import Reactor
import Synchronization
import XCTest

/// A scratch database for one test, created on the server `DATABASE_URL` points at (the private
/// cluster `make test` starts) and dropped by ``drop()``. Tests never share tables.
public final class TestDatabase: Sendable {
    /// The event loop every test connection runs on.
    public static let loop = EventLoop(name: "test-pg-loop")

    private static let counter = Mutex(0)

    public let name: String
    /// Connects to this database.
    public let configuration: PostgresConfiguration
    /// A libpq key/value connection string for this database, for child processes (`crm migrate`).
    public let connectionString: String

    /// The server's connection string the database was created on (and is dropped through).
    private let base: String

    private init(name: String, base: String) throws {
        self.name = name
        self.base = base
        self.configuration = PostgresConfiguration(connectionString: base, overrides: ["dbname": name])
        self.connectionString = try ConnectionString.replacingDatabase(in: base, with: name)
    }

    /// The server to create databases on; `make test` exports it. Unset, the test is skipped
    /// (a plain `swift test`) or fails (`make test`: ``TestRequirement``).
    public static func baseURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw TestRequirement.unmet("DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
        }
        return url
    }

    /// Creates an empty database, with the project's migrations applied when `migrated`, on
    /// the server of `DATABASE_URL` or of the connection string `server` (a cluster of the test's own).
    public static func create(migrated: Bool = true, on server: String? = nil) async throws -> TestDatabase {
        let base = try server ?? baseURL()
        let number = counter.withLock { value -> Int in
            value += 1
            return value
        }
        let database = try TestDatabase(name: "crm_test_\(getpid())_\(number)_\(UInt32.random(in: 0...UInt32.max))", base: base)
        let admin = try await PostgresConnection.connect(PostgresConfiguration(connectionString: base), on: loop)
        try await admin.simpleQuery("CREATE DATABASE \(database.name)")
        await admin.close()
        if server == nil { try await bootstrapCitus(database.name, coordinator: base) }
        if migrated {
            let connection = try await database.connect()
            try await Migrator.load(from: Self.migrationsDirectory).migrate(on: connection)
            await connection.close()
        }
        return database
    }

    /// The repository's `sql/` directory.
    public static var migrationsDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("sql").path
    }

    /// The environment a `crm` command run by a test needs: this database, and the
    /// repository's migrations (``commandEnvironment(databaseURL:)``).
    public var commandEnvironment: [String: String] { Self.commandEnvironment(databaseURL: connectionString) }

    /// The environment a `crm` command run by a test needs: `databaseURL`, and the repository's
    /// migrations.
    public static func commandEnvironment(databaseURL: String) -> [String: String] {
        ["DATABASE_URL": databaseURL, "CRM_MIGRATIONS_DIR": migrationsDirectory]
    }

    /// A new connection to this database.
    public func connect(applicationName: String = "crm-test") async throws -> PostgresConnection {
        var configuration = self.configuration
        configuration.applicationName = applicationName
        return try await PostgresConnection.connect(configuration, on: Self.loop)
    }

    /// A session of its own that holds `table` in ACCESS EXCLUSIVE mode, so every statement
    /// touching it waits; `ROLLBACK` (or closing it) lets them go.
    public func holdTableLock(_ table: String, applicationName: String = "table-lock-holder") async throws -> PostgresConnection {
        let connection = try await connect(applicationName: applicationName)
        try await connection.simpleQuery("BEGIN; LOCK TABLE \(table) IN ACCESS EXCLUSIVE MODE")
        return connection
    }

    /// Drops the database, disconnecting whoever is still connected.
    public func drop() async {
        guard let admin = try? await PostgresConnection.connect(PostgresConfiguration(connectionString: base), on: Self.loop) else { return }
        _ = try? await admin.simpleQuery("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        await admin.close()
        await Self.dropOnCitusWorkers(name)
    }
}

extension ConnectionString {
    /// The same connection as `connectionString`, as key/value pairs, with `dbname` replaced.
    public static func replacingDatabase(in connectionString: String, with database: String) throws -> String {
        var pairs = try settings(of: connectionString).filter { $0.keyword != "dbname" }.map { "\($0.keyword)=\(quote($0.value))" }
        pairs.append("dbname=\(quote(database))")
        return pairs.joined(separator: " ")
    }

    private static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}
