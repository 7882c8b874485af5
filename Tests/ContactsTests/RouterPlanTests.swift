@testable import Contacts
import Postgres
import TestSupport
import XCTest

/// Each statement a single-listing request sends reads one listing's rows in one place (API.md
/// §14). On a Citus coordinator (`make test-citus`) that is a router plan: one task, on the
/// worker holding the listing's shards (`Custom Scan (Citus Adaptive)`, `Task Count: 1`), never a
/// multi-shard query. On plain PostgreSQL the same statements read contacts through an index,
/// and each write is one function call.
final class RouterPlanTests: XCTestCase {
    private var database: TestDatabase!
    private let key = [UInt8](repeating: 7, count: 32)

    override func setUp() async throws {
        database = try await TestDatabase.create()
        let connection = try await database.connect()
        for statement in [
            "INSERT INTO listings (listing_id) VALUES (1), (2), (3), (4) ON CONFLICT DO NOTHING",
            """
            INSERT INTO contacts (listing_id, email, phone, first_name, last_name)
            SELECT 1 + n % 4, 'plan' || n || '@example.com', (1000000000 + n)::text, 'First' || n, md5(n::text)
              FROM generate_series(1, 4000) n
            """,
            "ANALYZE contacts",
        ] {
            try await connection.simpleQuery(statement)
        }
        await connection.close()
    }

    override func tearDown() async throws {
        await database?.drop()
    }

    /// `EXPLAIN` of `statement` executed with `parameters` (a custom plan, as the first
    /// executions of a prepared statement get).
    private func plan(_ statement: PreparedStatement, _ parameters: [(any PostgresEncodable)?]) async throws -> String {
        let connection = try await database.connect()
        let literals: [String] = parameters.map { (value: (any PostgresEncodable)?) -> String in
            guard let text = value?.postgresText else { return "NULL" }
            return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        }
        try await connection.simpleQuery("PREPARE planned AS \(statement.sql)")
        let result = try await connection.simpleQuery("EXPLAIN EXECUTE planned(\(literals.joined(separator: ", ")))")
        await connection.close()
        return try result.last!.rows.map { try $0.decode(String.self, column: 0) }.joined(separator: "\n")
    }

    /// On Citus: one task and nothing else distributed. On plain PostgreSQL: `plain(plan)`.
    private func check(_ name: String, _ statement: PreparedStatement, _ parameters: [(any PostgresEncodable)?],
                       plain: (String) -> Bool) async throws {
        let plan = try await plan(statement, parameters)
        if TestDatabase.isCitus {
            let taskCounts = plan.split(separator: "\n").filter { $0.contains("Task Count:") }
            XCTAssertTrue(plan.contains("Custom Scan (Citus Adaptive)"), "\(name):\n\(plan)")
            XCTAssertFalse(taskCounts.isEmpty, "\(name):\n\(plan)")
            XCTAssertTrue(taskCounts.allSatisfy { $0.hasSuffix("Task Count: 1") }, "\(name) is not a router plan:\n\(plan)")
            XCTAssertFalse(plan.contains("Distributed Subplan"), "\(name):\n\(plan)")
        } else {
            XCTAssertTrue(plain(plan), "\(name):\n\(plan)")
        }
    }

    func testEverySingleListingStatementIsARouterPlan() async throws {
        let readsContactsByIndex = { (plan: String) in !plan.contains("Seq Scan on contacts") && plan.contains("contacts") }
        var byName = ContactStore.SearchFilters()
        byName.name = "first12 c4"
        var byEmail = ContactStore.SearchFilters()
        byEmail.email = "plan12@example.com"
        for (name, filters) in [("page", ContactStore.SearchFilters()), ("email", byEmail), ("name", byName)] {
            let (statement, parameters) = ContactSearchQuery.statement(keyHash: key, listing: 1, filters: filters)
            try await check("search by \(name)", statement, parameters, plain: readsContactsByIndex)
        }
        try await check("change feed", ChangeFeed.read, [PostgresBytes(key), Int64(1), "0", Int64(0), 100, false, "{}"]) {
            $0.contains("contact_changes")
        }
        let isOneCall = { (function: String) in { (plan: String) in plan.contains("Function Scan on \(function)") } }
        try await check("create", ContactStore.create,
                        [PostgresBytes(key), Int64(1), "A", "B", "new@example.com", nil, "127.0.0.1", "crm_x", "req"],
                        plain: isOneCall("crm_api_create"))
        try await check("delete", ContactStore.delete,
                        [PostgresBytes(key), Int64(1), Int64(12), nil, nil, "crm_x", "req"], plain: isOneCall("crm_api_delete"))
    }
}
