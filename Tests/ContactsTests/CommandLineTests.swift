import Contacts
import Foundation
import TestSupport
import XCTest

/// The `crm` executable's administrative commands, run as a user runs them.
final class CommandLineTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        database = try await TestDatabase.create(migrated: false)
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    private func crm(_ arguments: String...) throws -> ChildProcess.Outcome {
        try ChildProcess.run(ChildProcess.crmExecutable, arguments + ["--migrations", TestDatabase.migrationsDirectory],
                             environment: ["DATABASE_URL": database.connectionString])
    }

    func testKeyCreatePrintsTheKeyAloneAndItWorksOnlyForItsListings() async throws {
        let created = try crm("key", "create", "--listing", "7", "--listing", "8", "--name", "partner", "--rate-limit", "50")
        XCTAssertEqual(created.status, 0, created.standardError)
        let lines = created.standardOutput.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        let key = String(lines[0])
        XCTAssertNotNil(key.wholeMatch(of: /crm_[0-9A-Za-z]{43}/), key)

        let connection = try await database.connect()
        let grants = try await connection.query("""
            SELECT g.listing_id FROM api_key_grants g JOIN api_keys k USING (key_id)
             WHERE k.key_hash = sha256(convert_to($1, 'UTF8')) AND k.name = 'partner' AND k.rate_limit = 50 ORDER BY 1
            """, [key]).rows.map { try $0.decode(Int64.self, column: 0) }
        XCTAssertEqual(grants, [7, 8])

        let listed = try crm("key", "list")
        XCTAssertEqual(listed.status, 0)
        XCTAssertTrue(listed.standardOutput.contains(APIKey(key).prefix))
        XCTAssertTrue(listed.standardOutput.contains("partner\t7,8\tread,write\t50"), listed.standardOutput)
        XCTAssertFalse(listed.standardOutput.contains(key), "never the key itself")

        let revoked = try crm("key", "revoke", key)
        XCTAssertEqual(revoked.status, 0, revoked.standardError)
        XCTAssertFalse(revoked.standardOutput.contains(key))
        let revokedAt = try await connection.query("SELECT revoked_at IS NOT NULL FROM api_keys WHERE name = 'partner'")[0]
        XCTAssertEqual(try revokedAt.decode(Bool.self, column: 0), true)
        let again = try crm("key", "revoke", key)
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(again.standardError.split(separator: "\n").count, 1, "one line: \(again.standardError)")
        await connection.close()
    }

    func testKeyCreateWithScopesStoresThemAndListShowsThem() async throws {
        let created = try crm("key", "create", "--listing", "4", "--scope", "webhooks", "--scope", "read", "--scope", "webhooks")
        XCTAssertEqual(created.status, 0, created.standardError)
        let key = created.standardOutput.trimmingCharacters(in: .newlines)
        let connection = try await database.connect()
        let scopes = try await connection.query(
            "SELECT array_to_string(scopes, ',') FROM api_keys WHERE key_hash = sha256(convert_to($1, 'UTF8'))", [key]
        )[0].decode(String.self, column: 0)
        await connection.close()
        XCTAssertEqual(scopes, "read,webhooks")
        let listed = try crm("key", "list")
        XCTAssertTrue(listed.standardOutput.hasPrefix("prefix\tname\tlistings\tscopes\trate_limit\tcreated\trevoked\n"), listed.standardOutput)
        XCTAssertTrue(listed.standardOutput.contains("\(APIKey(key).prefix)\t-\t4\tread,webhooks\t-\t"), listed.standardOutput)
    }

    func testBlacklistAddListRemove() async throws {
        XCTAssertEqual(try crm("blacklist", "add", "--email", " Spam@Example.COM ").standardOutput, "added email spam@example.com\n")
        XCTAssertEqual(try crm("blacklist", "add", "--domain", "junk.example", "--listing", "3").status, 0)
        XCTAssertEqual(try crm("blacklist", "add", "--phone", "+1 (555) 000-1234").standardOutput, "added phone 15550001234\n")
        XCTAssertEqual(try crm("blacklist", "add", "--email", "spam@example.com").standardOutput, "already present: email spam@example.com\n")
        let all = try crm("blacklist", "list")
        XCTAssertEqual(all.standardOutput, """
            kind\tvalue\tlisting
            email\tspam@example.com\tglobal
            phone\t15550001234\tglobal
            domain\tjunk.example\t3

            """)
        XCTAssertEqual(try crm("blacklist", "remove", "--email", "SPAM@example.com").status, 0)
        let missing = try crm("blacklist", "remove", "--email", "spam@example.com")
        XCTAssertEqual(missing.status, 1)
        let connection = try await database.connect()
        let count = try await connection.query("SELECT count(*) FROM blacklist_entries")[0].decode(Int.self, column: 0)
        XCTAssertEqual(count, 2)
        await connection.close()
    }

    func testErasureSuppressionsAreListedByHashAndLiftedByHash() async throws {
        let hash = String(repeating: "ab", count: 32)
        XCTAssertEqual(try crm("blacklist", "add", "--email-sha256", hash.uppercased(), "--listing", "5").standardOutput,
                       "added email-sha256 \(hash)\n")
        XCTAssertEqual(try crm("blacklist", "add", "--phone-sha256", String(repeating: "0", count: 64), "--listing", "5").status, 0)
        XCTAssertEqual(try crm("blacklist", "list", "--listing", "5").standardOutput, """
            kind\tvalue\tlisting
            email-sha256\t\(hash)\t5
            phone-sha256\t\(String(repeating: "0", count: 64))\t5

            """)
        let removed = try crm("blacklist", "remove", "--email-sha256", hash, "--listing", "5")
        XCTAssertEqual(removed.status, 0, removed.standardError)
        XCTAssertEqual(try crm("blacklist", "remove", "--email-sha256", hash, "--listing", "5").status, 1, "already lifted")
        for bad in ["abc", String(repeating: "g", count: 64), String(repeating: "a", count: 65)] {
            let outcome = try crm("blacklist", "add", "--email-sha256", bad, "--listing", "5")
            XCTAssertNotEqual(outcome.status, 0, bad)
            XCTAssertTrue(outcome.standardError.contains("email-sha256 must be 64 hexadecimal digits"), outcome.standardError)
        }
        let connection = try await database.connect()
        let count = try await connection.query("SELECT count(*) FROM blacklist_entries")[0].decode(Int.self, column: 0)
        XCTAssertEqual(count, 1)
        await connection.close()
    }

    func testWebhookAddPrintsTheSecretLastAndListAndRemoveWork() async throws {
        let added = try crm("webhook", "add", "--listing", "6", "--url", "https://93.184.216.34/h", "--event", "contact.deleted")
        XCTAssertEqual(added.status, 0, added.standardError)
        let lines = added.standardOutput.split(separator: "\n")
        XCTAssertNotNil(lines.last?.wholeMatch(of: /whsec_[A-Za-z0-9+\/]{43}=/), added.standardOutput)
        let listed = try crm("webhook", "list", "--listing", "6")
        XCTAssertTrue(listed.standardOutput.contains("\t6\thttps://93.184.216.34/h\tcontact.deleted\tactive"), listed.standardOutput)
        XCTAssertFalse(listed.standardOutput.contains(String(lines.last ?? "")), "never the secret")
        let refused = try crm("webhook", "add", "--listing", "6", "--url", "http://127.0.0.1:9/h")
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.standardError.contains("internal"), refused.standardError)
        XCTAssertEqual(try crm("webhook", "add", "--listing", "6", "--url", "http://127.0.0.1:9/h", "--webhook-allow-private").status, 0)
        let connection = try await database.connect()
        let id = try await connection.query("SELECT min(webhook_id) FROM webhook_endpoints")[0].decode(Int64.self, column: 0)
        await connection.close()
        XCTAssertEqual(try crm("webhook", "remove", String(id)).status, 0)
        XCTAssertEqual(try crm("webhook", "remove", String(id)).status, 1)
        XCTAssertNotEqual(try crm("webhook", "add", "--listing", "6", "--url", "ftp://x/", "--event", "contact.created").status, 0)
    }

    func testBadArgumentsFailWithOneLineAndNonZeroStatus() throws {
        for arguments in [["key", "create"], ["key", "create", "--listing", "0"], ["key", "create", "--listing", "1", "--scope", "admin"],
                          ["blacklist", "add"],
                          ["blacklist", "add", "--email", "a@b.co", "--phone", "1234567"], ["blacklist", "add", "--email", "not-an-email"]] {
            let outcome = try ChildProcess.run(ChildProcess.crmExecutable, arguments, environment: ["DATABASE_URL": database.connectionString])
            XCTAssertNotEqual(outcome.status, 0, "\(arguments)")
            XCTAssertEqual(outcome.standardOutput, "")
            XCTAssertTrue(outcome.standardError.hasPrefix("Error: "), "\(arguments): \(outcome.standardError)")
            XCTAssertEqual(outcome.standardError.split(separator: "\n").count, 1, "one line: \(outcome.standardError)")
        }
    }

    func testEveryCommandHasHelp() throws {
        for command in [["serve"], ["migrate"], ["key", "create"], ["key", "revoke"], ["key", "list"],
                        ["blacklist", "add"], ["blacklist", "remove"], ["blacklist", "list"],
                        ["webhook", "add"], ["webhook", "list"], ["webhook", "remove"], ["import"], ["export"]] {
            let outcome = try ChildProcess.run(ChildProcess.crmExecutable, command + ["--help"])
            XCTAssertEqual(outcome.status, 0, "\(command)")
            XCTAssertTrue(outcome.standardOutput.contains("USAGE: crm \(command.joined(separator: " "))"), outcome.standardOutput)
        }
    }

    func testImportAppliesAFileAndExportWritesTheListingWithItsCursor() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("crm-import-\(getpid()).csv")
        try "email,phone,first_name\ncli1@example.com,,One\nbad,,\ncli2@example.com,+1 555 000 0002,Two\n"
            .write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let imported = try crm("import", "--listing", "5", "--mode", "create", file.path)
        XCTAssertEqual(imported.status, 0, imported.standardError)
        XCTAssertTrue(imported.standardOutput.contains("completed: 3 row(s), 2 created, 0 updated, 1 rejected"), imported.standardOutput)
        XCTAssertEqual(imported.standardError,
                       #"{"row":2,"code":"invalid_parameter","parameter":"email","message":"email must be an address like name@example.com."}"# + "\n")
        let exported = try crm("export", "--listing", "5")
        XCTAssertEqual(exported.status, 0, exported.standardError)
        let lines = exported.standardOutput.split(separator: "\n")
        guard lines.count == 3 else { return XCTFail("expected a header and two contacts: \(exported.standardOutput)") }
        XCTAssertTrue(lines[0].hasPrefix("contact_id,contact_unique_id,contact_first_name"))
        XCTAssertTrue(lines[1].contains(",One,,cli1@example.com,,"), String(lines[1]))
        XCTAssertTrue(exported.standardError.hasPrefix("X-Change-Cursor: 5-"), exported.standardError)
        let unknown = try crm("import", "--listing", "5", "--format", "xml", file.path)
        XCTAssertNotEqual(unknown.status, 0)
    }
}
