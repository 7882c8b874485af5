import Postgres
import TestSupport
import XCTest

/// The rules of the contacts table hold for any writer, plain SQL included.
final class ContactConstraintTests: XCTestCase {
    private var database: TestDatabase!
    private var connection: PostgresConnection!

    override func setUp() async throws {
        database = try await TestDatabase.create()
        connection = try await database.connect()
        try await connection.simpleQuery("INSERT INTO listings (listing_id) VALUES (1), (2)")
    }

    override func tearDown() async throws {
        await connection?.close()
        await database?.drop()
    }

    @discardableResult
    private func insert(listing: Int64, email: String?, phone: String? = nil) async throws -> Int64 {
        try await connection.query(
            "INSERT INTO contacts (listing_id, email, phone) VALUES ($1, $2, $3) RETURNING contact_id",
            [listing, email, phone])[0].decode(Int64.self, column: 0)
    }

    private func expectViolation(_ state: SQLState, constraint: String?, _ body: () async throws -> Void) async {
        do {
            try await body()
            XCTFail("expected SQLSTATE \(state)")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, state, "\(error)")
            if let constraint { XCTAssertEqual(error.constraint, constraint) }
        } catch {
            XCTFail("unexpected \(error)")
        }
    }

    func testTheSameEmailIsAllowedInTwoListings() async throws {
        let first = try await insert(listing: 1, email: "john@x.com")
        let second = try await insert(listing: 2, email: "john@x.com")
        XCTAssertNotEqual(first, second)
    }

    func testEmailsDifferingOnlyInCaseCollideWithinAListing() async throws {
        try await insert(listing: 1, email: "John@X.com")
        await expectViolation(.uniqueViolation, constraint: "contacts_listing_email_key") {
            try await self.insert(listing: 1, email: "john@x.com")
        }
        let count = try await connection.query("SELECT count(*) FROM contacts WHERE listing_id = 1")[0].decode(Int.self, column: 0)
        XCTAssertEqual(count, 1)
    }

    func testAPhoneIsUniqueWithinAListingOnly() async throws {
        try await insert(listing: 1, email: nil, phone: "15551234567")
        try await insert(listing: 2, email: nil, phone: "15551234567")
        await expectViolation(.uniqueViolation, constraint: "contacts_listing_phone_key") {
            try await self.insert(listing: 1, email: "other@x.com", phone: "15551234567")
        }
    }

    func testAContactNeedsAnEmailOrAPhone() async throws {
        await expectViolation(.checkViolation, constraint: "contacts_email_or_phone") {
            try await self.insert(listing: 1, email: nil, phone: nil)
        }
    }

    func testStoredValuesMustBeInTheirNormalForm() async throws {
        await expectViolation(.checkViolation, constraint: "contacts_phone_check") {
            try await self.insert(listing: 1, email: nil, phone: "+1 (555) 123-4567")
        }
        await expectViolation(.checkViolation, constraint: "contacts_email_check") {
            try await self.insert(listing: 1, email: "no-at-sign.example.com")
        }
        await expectViolation(.foreignKeyViolation, constraint: nil) {
            try await self.insert(listing: 99, email: "a@b.co")
        }
    }

    func testContactIDsAreUniqueAcrossListingsAndUniqueIDsAreOpaque() async throws {
        var ids: [Int64] = []
        for index in 0..<10 {
            ids.append(try await insert(listing: Int64(index % 2 + 1), email: "p\(index)@x.com"))
        }
        XCTAssertEqual(Set(ids).count, 10)
        let uniqueIDs = try await connection.query("SELECT unique_id FROM contacts").rows.map { try $0.decode(String.self, column: 0) }
        XCTAssertEqual(Set(uniqueIDs).count, 10)
        for uniqueID in uniqueIDs {
            XCTAssertNotNil(uniqueID.wholeMatch(of: /l-[0-9A-F]{32}/), uniqueID)
        }
    }

    func testUpdatedAtMovesOnlyWhenAValueChanges() async throws {
        let id = try await insert(listing: 1, email: "t@x.com")
        try await connection.query("UPDATE contacts SET updated_at = '2020-01-01' WHERE contact_id = $1", [id])
        try await connection.query("UPDATE contacts SET email = email WHERE contact_id = $1", [id])
        let unchanged = try await connection.query("SELECT updated_at = '2020-01-01' FROM contacts WHERE contact_id = $1", [id])
        XCTAssertEqual(try unchanged[0].decode(Bool.self, column: 0), true)
        try await connection.query("UPDATE contacts SET first_name = 'T' WHERE contact_id = $1", [id])
        let moved = try await connection.query("SELECT updated_at > now() - interval '1 minute' FROM contacts WHERE contact_id = $1", [id])
        XCTAssertEqual(try moved[0].decode(Bool.self, column: 0), true)
    }

    func testSubstringSearchesCanUseTheTrigramIndexes() async throws {
        try await connection.simpleQuery("""
            INSERT INTO contacts (listing_id, email, first_name, last_name)
            SELECT 1 + g % 2, 'c' || g || '@x.com', 'First' || g, 'Last' || md5(g::text) FROM generate_series(1, 5000) g;
            ANALYZE contacts;
            """)
        let plan = try await connection.query(
            "EXPLAIN SELECT contact_id FROM contacts WHERE listing_id = $1 AND crm_full_name(first_name, last_name) LIKE $2",
            [1, "%rst42 last%"]).rows.map { try $0.decode(String.self, column: 0) }.joined(separator: "\n")
        XCTAssertTrue(plan.contains("contacts_full_name_trgm"), plan)
    }
}
