import ArgumentParser
import Contacts

/// `crm blacklist add|remove|list`.
struct BlacklistCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blacklist",
        abstract: "Manage blacklisted emails, email domains and phones.",
        subcommands: [Add.self, Remove.self, List.self]
    )

    /// Exactly one of --email, --domain, --phone, and an optional --listing.
    struct EntryOptions: ParsableArguments {
        @Option(help: "An email address.") var email: String?
        @Option(help: "An email domain: matches addresses at exactly that domain.") var domain: String?
        @Option(help: "A phone number (formatting is ignored).") var phone: String?
        @Option(help: "Only for this listing (default: every listing).") var listing: Int64?

        func validate() throws {
            guard [email, domain, phone].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --email, --domain, --phone")
            }
            if let listing, listing <= 0 { throw ValidationError("--listing must be from 1 to 9223372036854775807") }
        }

        func entry() throws -> AdminStore.BlacklistEntry {
            let (kind, value): (AdminStore.BlacklistEntry.Kind, String) =
                email.map { (.email, $0) } ?? domain.map { (.domain, $0) } ?? (.phone, phone ?? "")
            do {
                return try AdminStore.BlacklistEntry.normalized(kind: kind, value: value, listing: listing)
            } catch {
                throw ValidationError(error.message)
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add an entry (global without --listing).")
        @OptionGroup var entry: EntryOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let entry = try entry.entry()
            let connection = try await database.connect()
            let added = try await AdminStore(connection: connection).addBlacklistEntry(entry)
            await connection.close()
            print(added ? "added \(entry.kind.rawValue) \(entry.value)" : "already present: \(entry.kind.rawValue) \(entry.value)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an entry.")
        @OptionGroup var entry: EntryOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let entry = try entry.entry()
            let connection = try await database.connect()
            let removed = try await AdminStore(connection: connection).removeBlacklistEntry(entry)
            await connection.close()
            guard removed else { throw CommandFailure("no such entry: \(entry.kind.rawValue) \(entry.value)") }
            print("removed \(entry.kind.rawValue) \(entry.value)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List entries: global ones and, with --listing, that listing's.")
        @Option(help: "Show the global entries and this listing's.") var listing: Int64?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try await database.connect()
            let entries = try await AdminStore(connection: connection).listBlacklist(listing: listing)
            await connection.close()
            print(["kind", "value", "listing"].joined(separator: "\t"))
            for entry in entries {
                print([entry.kind.rawValue, entry.value, entry.listing.map(String.init) ?? "global"].joined(separator: "\t"))
            }
        }
    }
}
