import ArgumentParser
import Contacts

/// `crm webhook add|list|remove` (API.md §11): the listing's webhook endpoints, for operators.
struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Add, list and remove webhook endpoints.",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an endpoint to a listing (created if needed); prints its secret alone on the last line.")

        @Option(help: "The listing whose changes are sent.") var listing: Int64
        @Option(help: "The endpoint: an http or https URL.") var url: String
        @Option(name: .customLong("event"), help: "An event type to send (contact.created, contact.updated, contact.deleted); repeat for several (default: all).")
        var events: [String] = []
        @Flag(name: .customLong("webhook-allow-private"),
              help: "Allow loopback and private addresses (env CRM_WEBHOOK_ALLOW_PRIVATE=1).")
        var allowPrivate = false
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard listing > 0 else { throw ValidationError("--listing must be from 1 to 9223372036854775807") }
            let endpoint: WebhookURL
            let types: [String]
            do {
                endpoint = try WebhookURL(url)
                types = try WebhookStore.events(events.joined(separator: ","))
            } catch {
                throw ValidationError(error.message)
            }
            let policy = AddressPolicy(allowsPrivate: allowPrivate || Environment.value("CRM_WEBHOOK_ALLOW_PRIVATE") == "1")
            if let why = await policy.refusal(host: endpoint.host) {
                throw CommandFailure("url \(why); webhooks may not call internal addresses (see --webhook-allow-private)")
            }
            let secret = WebhookStore.newSecret()
            let connection = try await database.connect()
            let id = try await AdminStore(connection: connection).addWebhook(listing: listing, url: endpoint.text, events: types, secret: secret)
            await connection.close()
            print("added webhook \(id) for listing \(listing): \(endpoint.text) (\(types.joined(separator: ",")))")
            print(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List endpoints (of one listing with --listing); never the secrets.")
        @Option(help: "Only this listing's endpoints.") var listing: Int64?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try await database.connect()
            let rows = try await AdminStore(connection: connection).listWebhooks(listing: listing)
            await connection.close()
            print(["webhook_id", "listing", "url", "events", "status"].joined(separator: "\t"))
            for row in rows { print(row) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an endpoint.")
        @Argument(help: "The webhook_id, as `crm webhook list` shows it.") var webhookID: Int64
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let connection = try await database.connect()
            let removed = try await AdminStore(connection: connection).removeWebhook(webhookID)
            await connection.close()
            guard removed else { throw CommandFailure("no webhook \(webhookID)") }
            print("removed webhook \(webhookID)")
        }
    }
}
