import ArgumentParser
import Contacts

/// `crm blacklist add|remove|list`.
struct BlacklistCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blacklist",
        abstract: "Manage blacklisted emails, email domains and phones, and erasure's suppressions.",
        subcommands: [Add.self, Remove.self, List.self]
    )

    /// Exactly one of --email, --domain, --phone, --email-sha256, --phone-sha256, and an
    /// optional --listing.
    struct EntryOptions: ParsableArguments {
        @Option(help: "An email address.") var email: String?
        @Option(help: "An email domain: matches addresses at exactly that domain.") var domain: String?
        @Option(help: "A phone number (formatting is ignored).") var phone: String?
        @Option(name: .customLong("email-sha256"),
                help: "An erasure's suppression: the SHA-256 (hex) of a lower-cased email, as `crm blacklist list` shows it.")
        var emailSHA256: String?
        @Option(name: .customLong("phone-sha256"),
                help: "An erasure's suppression: the SHA-256 (hex) of a phone's digits, as `crm blacklist list` shows it.")
        var phoneSHA256: String?
        @Option(help: "Only for this listing (default: every listing).") var listing: Int64?

        func validate() throws {
            guard [email, domain, phone, emailSHA256, phoneSHA256].compactMap({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --email, --domain, --phone, --email-sha256, --phone-sha256")
            }
            if let listing, listing <= 0 { throw ValidationError("--listing must be from 1 to 9223372036854775807") }
        }

        func entry() throws -> AdminStore.BlacklistEntry {
            let (kind, value): (AdminStore.BlacklistEntry.Kind, String) =
                email.map { (.email, $0) } ?? domain.map { (.domain, $0) } ?? emailSHA256.map { (.emailSHA256, $0) }
                ?? phoneSHA256.map { (.phoneSHA256, $0) } ?? (.phone, phone ?? "")
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
