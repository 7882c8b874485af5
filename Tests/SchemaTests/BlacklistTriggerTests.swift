import Postgres
import TestSupport
import XCTest

/// The blacklist trigger blocks inserts and updates made with plain SQL, not only the API's.
final class BlacklistTriggerTests: XCTestCase {
    private var database: TestDatabase!
    private var connection: PostgresConnection!
    private let blacklisted = SQLState("CRMBL")

    override func setUp() async throws {
        database = try await TestDatabase.create()
        connection = try await database.connect()
        try await connection.simpleQuery("INSERT INTO listings (listing_id) VALUES (1), (2)")
    }

    override func tearDown() async throws {
        await connection?.close()
        await database?.drop()
    }

    private func block(_ kind: String, _ value: String, listing: Int64?) async throws {
        try await connection.query("INSERT INTO blacklist_entries (listing_id, kind, value) VALUES ($1, $2, $3)", [listing, kind, value])
    }

    private func insertContact(listing: Int64, email: String?, phone: String?) async throws {
        try await connection.query("INSERT INTO contacts (listing_id, email, phone) VALUES ($1, $2, $3)", [listing, email, phone])
    }

    private func blockedColumn(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, blacklisted, "\(error)")
            XCTAssertEqual(error.table, "contacts")
            return error.column
        } catch {
            XCTFail("unexpected \(error)")
            return nil
        }
    }

    private func contactCount() async throws -> Int {
        try await connection.query("SELECT count(*) FROM contacts")[0].decode(Int.self, column: 0)
    }

    func testEveryKindOfEntryBlocksInsertsInItsScopeOnly() async throws {
        struct Case {
            let kind: String, entry: String, email: String?, phone: String?, column: String
        }
        let cases = [
            Case(kind: "email", entry: "Spam@Example.com", email: "spam@example.COM", phone: nil, column: "email"),
            Case(kind: "domain", entry: "junk.example", email: "anyone@JUNK.example", phone: nil, column: "email"),
            Case(kind: "phone", entry: "+1 (555) 000-1111", email: nil, phone: "15550001111", column: "phone"),
        ]
        for testCase in cases {
            for scope: Int64? in [nil, 1] {
                try await connection.simpleQuery("DELETE FROM blacklist_entries; DELETE FROM contacts")
                try await block(testCase.kind, testCase.entry, listing: scope)
                let column = await blockedColumn {
                    try await self.insertContact(listing: 1, email: testCase.email, phone: testCase.phone)
                }
                XCTAssertEqual(column, testCase.column, "\(testCase.kind) entry, scope \(scope.map(String.init) ?? "global")")
                let otherListing = await blockedColumn {
                    try await self.insertContact(listing: 2, email: testCase.email, phone: testCase.phone)
                }
                XCTAssertEqual(otherListing, scope == nil ? testCase.column : nil,
                               "a global entry blocks listing 2 too; listing 1's entry does not")
                let expectedCount = scope == nil ? 0 : 1
                let count = try await contactCount()
                XCTAssertEqual(count, expectedCount)
            }
        }
    }

    func testADomainEntryMatchesThatExactDomainOnly() async throws {
        try await block("domain", "example.com", listing: nil)
        let subdomain = await blockedColumn { try await self.insertContact(listing: 1, email: "a@mail.example.com", phone: nil) }
        XCTAssertNil(subdomain)
        let lookalike = await blockedColumn { try await self.insertContact(listing: 1, email: "a@notexample.com", phone: nil) }
        XCTAssertNil(lookalike)
        let exact = await blockedColumn { try await self.insertContact(listing: 1, email: "b@example.com", phone: nil) }
        XCTAssertEqual(exact, "email")
    }

    func testUpdatesToABlacklistedValueAreBlockedButOtherEditsAreNot() async throws {
        try await insertContact(listing: 1, email: "ok@fine.example", phone: "15550002222")
        try await block("phone", "15550003333", listing: 1)
        try await block("email", "ok@fine.example", listing: 1)  // blacklisted after the contact was made
        let phoneChange = await blockedColumn {
            try await self.connection.query("UPDATE contacts SET phone = '15550003333' WHERE listing_id = 1")
        }
        XCTAssertEqual(phoneChange, "phone")
        let nameChange = await blockedColumn {
            try await self.connection.query("UPDATE contacts SET first_name = 'Renamed', email = email WHERE listing_id = 1")
        }
        XCTAssertNil(nameChange, "a value that does not change is not re-checked")
        let stored = try await connection.query("SELECT first_name, phone FROM contacts WHERE listing_id = 1")[0]
        XCTAssertEqual(try stored.decode(String.self, column: 0), "Renamed")
        XCTAssertEqual(try stored.decode(String.self, column: 1), "15550002222")
    }

    /// One query finds every entry a row matches (sql/009); the one reported is the email's before
    /// the phone's, an email entry before its domain's, a global entry before the listing's.
    func testTheEntryReportedIsTheEmailsFirstThenTheDomainsThenThePhonesGlobalBeforeListing() async throws {
        try await block("phone", "15550004444", listing: nil)
        try await block("domain", "both.example", listing: 1)
        try await block("email", "x@both.example", listing: 1)
        try await block("email", "x@both.example", listing: nil)
        func refusal(_ email: String?, _ phone: String?) async throws -> (column: String?, detail: String?) {
            do {
                try await insertContact(listing: 1, email: email, phone: phone)
                return (nil, nil)
            } catch let error as PostgresError {
                XCTAssertEqual(error.sqlState, blacklisted, "\(error)")
                return (error.column, error.detail)
            }
        }
        let all = try await refusal("X@both.example", "15550004444")
        XCTAssertEqual(all.column, "email")
        XCTAssertEqual(all.detail, "matched a global email entry")
        let domain = try await refusal("y@both.example", "15550004444")
        XCTAssertEqual(domain.column, "email")
        XCTAssertEqual(domain.detail, "matched a listing domain entry")
        let phone = try await refusal("y@fine.example", "15550004444")
        XCTAssertEqual(phone.column, "phone")
        XCTAssertEqual(phone.detail, "matched a global phone entry")
        let none = try await refusal("y@fine.example", "15550005555")
        XCTAssertNil(none.column)
        let count = try await contactCount()
        XCTAssertEqual(count, 1)
    }

    func testEntriesAreStoredNormalizedAndUniquePerScope() async throws {
        try await block("email", "  Mixed@Case.Example ", listing: nil)
        try await block("phone", "+44 20-7946.0000", listing: 2)
        let values = try await connection.query("SELECT value FROM blacklist_entries ORDER BY kind").rows
            .map { try $0.decode(String.self, column: 0) }
        XCTAssertEqual(values, ["mixed@case.example", "442079460000"])
        do {
            try await block("email", "MIXED@case.example", listing: nil)
            XCTFail("a second global entry for the same address")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, .uniqueViolation)
        }
        try await block("email", "mixed@case.example", listing: 1)  // the same address scoped to a listing is distinct
        do {
            try await block("phone", "12", listing: nil)
            XCTFail("too short for a phone")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, .checkViolation)
        }
    }

    /// sql/012: erasure's suppressions, stored as the SHA-256 (hex) of the normalized value,
    /// block every writer in their listing; reported after the plain entries of the same column.
    func testSuppressionsByHashBlockTheValueTheyHashInTheirListing() async throws {
        let emailHash = try await connection.query("SELECT upper(encode(sha256('hash@erased.example'), 'hex'))")[0].decode(String.self, column: 0)
        try await block("email-sha256", "  \(emailHash) ", listing: 1)
        try await block("phone-sha256", try await connection.query("SELECT encode(sha256('15550006666'), 'hex')")[0].decode(String.self, column: 0),
                        listing: 1)
        let stored = try await connection.query("SELECT value FROM blacklist_entries WHERE kind = 'email-sha256'")[0].decode(String.self, column: 0)
        XCTAssertEqual(stored, emailHash.lowercased(), "trimmed, lower case")
        let email = await blockedColumn { try await self.insertContact(listing: 1, email: "Hash@Erased.example", phone: nil) }
        XCTAssertEqual(email, "email")
        let phone = await blockedColumn { try await self.insertContact(listing: 1, email: nil, phone: "15550006666") }
        XCTAssertEqual(phone, "phone")
        try await insertContact(listing: 2, email: "hash@erased.example", phone: "15550006666")
        try await block("email", "hash@erased.example", listing: 1)
        do {
            try await insertContact(listing: 1, email: "hash@erased.example", phone: nil)
            XCTFail("blocked")
        } catch let error as PostgresError {
            XCTAssertEqual(error.detail, "matched a listing email entry", "the plain entry is reported first")
        }
        do {
            try await block("email-sha256", "not-a-hash", listing: 1)
            XCTFail("a hash is 64 hex digits")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, .checkViolation)
        }
        let count = try await contactCount()
        XCTAssertEqual(count, 1)
    }
}
