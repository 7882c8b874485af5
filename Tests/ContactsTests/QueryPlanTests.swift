@testable import Contacts
import Postgres
import TestSupport
import XCTest

/// Every search statement the API sends reads contacts through an index, with the plan
/// PostgreSQL keeps for a prepared statement (the generic plan), on listings big enough that a
/// sequential scan would be the planner's choice if no index fitted. Also that the grant check
/// and the contact renderer of sql/005 are inlined (no function call left in the plan).
final class QueryPlanTests: XCTestCase {
    private var database: TestDatabase!

    override func setUp() async throws {
        // Citus plans these on the listing's worker, with its own planner: RouterPlanTests.
        try XCTSkipIf(TestDatabase.isCitus, "plain PostgreSQL's plans; on Citus, RouterPlanTests")
        database = try await TestDatabase.create()
        let connection = try await database.connect()
        try await connection.simpleQuery("""
            INSERT INTO listings (listing_id) VALUES (1), (2) ON CONFLICT DO NOTHING;
            INSERT INTO contacts (listing_id, email, phone, first_name, last_name)
            SELECT 1 + n % 2, 'plan' || n || '@example.com', (1000000000 + n)::text, 'First' || n, md5(n::text)
              FROM generate_series(1, 40000) n;
            ANALYZE;
            """)
        await connection.close()
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    /// The plan of `statement` as a prepared statement's generic plan, for `parameters`.
    private func genericPlan(_ statement: PreparedStatement, _ parameters: [(any PostgresEncodable)?]) async throws -> String {
        let connection = try await database.connect()
        let literals: [String] = parameters.map { (value: (any PostgresEncodable)?) -> String in
            guard let text = value?.postgresText else { return "NULL" }
            return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        }
        let results = try await connection.simpleQuery("""
            SET plan_cache_mode = force_generic_plan;
            PREPARE planned AS \(statement.sql);
            EXPLAIN (VERBOSE) EXECUTE planned(\(literals.joined(separator: ", ")));
            """)
        await connection.close()
        return try results.last!.rows.map { try $0.decode(String.self, column: 0) }.joined(separator: "\n")
    }

    func testEverySearchReadsContactsThroughAnIndexAndCallsNoFunction() async throws {
        let key = [UInt8](repeating: 7, count: 32)
        func filters(_ set: (inout ContactStore.SearchFilters) -> Void) -> ContactStore.SearchFilters {
            var filters = ContactStore.SearchFilters()
            set(&filters)
            return filters
        }
        let cases: [(String, ContactStore.SearchFilters)] = [
            ("no filter", .init()),
            ("id", filters { $0.id = 12 }),
            ("email", filters { $0.email = "plan12@example.com" }),
            ("phone", filters { $0.phone = "1000000012" }),
            ("first_name", filters { $0.firstName = "rst12" }),
            ("last_name", filters { $0.lastName = "c4ca4" }),
            ("name", filters { $0.name = "first12 c4" }),
            ("email and last_name after 5", filters { $0.email = "plan12@example.com"; $0.lastName = "c4ca4"; $0.after = 5 }),
        ]

        for (name, filters) in cases {
            let (statement, parameters) = ContactSearchQuery.statement(keyHash: key, listing: 1, filters: filters)
            let plan = try await genericPlan(statement, parameters)
            XCTAssertFalse(plan.contains("Seq Scan on public.contacts"), "\(name):\n\(plan)")
            XCTAssertTrue(plan.contains("Index") && plan.contains("contacts"), "\(name):\n\(plan)")
            for function in ["crm_granted_listing", "crm_contact_json", "crm_key_grants"] {
                XCTAssertFalse(plan.contains(function), "\(name): \(function) was not inlined:\n\(plan)")
            }
        }
    }
}
