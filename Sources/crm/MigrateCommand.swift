import ArgumentParser

/// `crm migrate`: applies pending migrations; safe to run from several processes at once.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending migrations from the sql/ directory."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let (applied, total) = try await database.migrate()
        for migration in applied {
            print("applied \(migration.name)")
        }
        if applied.isEmpty { print("schema up to date (\(total) migrations)") }
    }
}
