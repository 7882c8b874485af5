import ArgumentParser
import Contacts

/// `--scope read|write|webhooks`: an unknown word fails the command with the valid ones listed.
extension KeyScope: ExpressibleByArgument {}

/// `crm key create|revoke|list`.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Create, revoke and list API keys.",
        subcommands: [Create.self, Revoke.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key for one or more listings (created if needed); prints the key alone.")

        @Option(name: .customLong("listing"), help: "A listing the key may use; repeat for several.")
        var listings: [Int64] = []
        @Option(help: "A name to tell the key apart in `crm key list`.")
        var name: String?
        @Option(name: .customLong("rate-limit"), help: "Requests per second allowed to this key (default: no limit).")
        var rateLimit: Int?
        @Option(name: .customLong("scope"),
                help: "What the key may do: read, write or webhooks; repeat for several (default: read and write).")
        var scopes: [KeyScope] = []
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            guard !listings.isEmpty else { throw ValidationError("at least one --listing is required") }
            guard listings.allSatisfy({ $0 > 0 }) else { throw ValidationError("--listing must be from 1 to 9223372036854775807") }
            if let rateLimit, rateLimit <= 0 { throw ValidationError("--rate-limit must be positive") }
            if let name, name.count > 200 { throw ValidationError("--name must be at most 200 characters") }
        }

        func run() async throws {
            let connection = try await database.connect()
            let key = try await AdminStore(connection: connection).createKey(
                listings: listings, name: name, rateLimit: rateLimit, scopes: scopes.isEmpty ? KeyScope.defaults : scopes)
            await connection.close()
            print(key.text)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: refused from the next request on.")

        @Argument(help: "The key, as `crm key create` printed it.")
        var key: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try await database.connect()
            let revoked = try await AdminStore(connection: connection).revokeKey(APIKey(key))
            await connection.close()
            guard revoked else { throw CommandFailure("no live key matches") }
            print("revoked \(APIKey(key).prefix)…")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys by prefix; never the keys themselves.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try await database.connect()
            let keys = try await AdminStore(connection: connection).listKeys()
            await connection.close()
            print(["prefix", "name", "listings", "scopes", "rate_limit", "created", "revoked"].joined(separator: "\t"))
            for key in keys {
                print([key.prefix, key.name ?? "-", key.listings.map(String.init).joined(separator: ","),
                       key.scopes.map(\.rawValue).joined(separator: ","),
                       key.rateLimit.map(String.init) ?? "-", key.created, key.revoked ?? "-"].joined(separator: "\t"))
            }
        }
    }
}
