import ArgumentParser

/// The `crm` executable: one binary for serving, migrating and administration.
@main
struct CRM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crm",
        abstract: "Contacts CRM API service.",
        subcommands: [ServeCommand.self, MigrateCommand.self, KeyCommand.self, BlacklistCommand.self]
    )
}
