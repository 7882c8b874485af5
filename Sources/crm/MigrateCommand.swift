import ArgumentParser
import Postgres
import Reactor

/// `crm migrate`: applies pending migrations; safe to run from several processes at once.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending migrations from the sql/ directory."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let migrations = try Migration.load(from: database.resolvedMigrationsDirectory)
        let loop = EventLoop(name: "crm-migrate")
        let connection = try await PostgresConnection.connect(database.postgres, on: loop)
        let applied = try await Migrator(migrations: migrations).migrate(on: connection)
        await connection.close()
        for migration in applied {
            print("applied \(migration.name)")
        }
        if applied.isEmpty { print("schema up to date (\(migrations.count) migrations)") }
    }
}
