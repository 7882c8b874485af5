import Postgres
import TestSupport
import XCTest

/// The API functions report their outcome as the enum type `crm_api_outcome` (sql/008), in
/// their declared result and in the rows they return; PostgreSQL refuses any other label.
final class APIOutcomeTypeTests: XCTestCase {
    private var database: TestDatabase!
    private var connection: PostgresConnection!
    /// The labels the Swift side decodes (Sources/Contacts/ContactOutcome.swift), in order.
    private let labels = ["forbidden", "created", "updated", "deleted", "not_found", "duplicate", "blacklisted",
                          "conflict", "invalid", "last_contact_point", "in_flight", "idempotency_key_reused", "suppressed"]

    override func setUp() async throws {
        database = try await TestDatabase.create()
        connection = try await database.connect()
    }

    override func tearDown() async throws {
        await connection?.close()
        await database?.drop()
    }

    func testTheOutcomeTypeIsAnEnumOfTheAPIsLabels() async throws {
        let rows = try await connection.query("""
            SELECT e.enumlabel FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
             WHERE t.typname = 'crm_api_outcome' AND t.typtype = 'e' ORDER BY e.enumsortorder
            """).rows
        XCTAssertEqual(try rows.map { try $0.decode(String.self, column: 0) }, labels)
    }

    func testEveryAPIFunctionDeclaresItsOutcomeColumnAsTheEnum() async throws {
        let rows = try await connection.query("""
            SELECT DISTINCT p.proname, p.proretset, a.name, format_type(a.type, NULL), a.column_no
              FROM pg_proc p
              CROSS JOIN LATERAL (
                   SELECT u.*, row_number() OVER (ORDER BY u.n) AS column_no
                     FROM unnest(p.proallargtypes, p.proargmodes, p.proargnames) WITH ORDINALITY AS u(type, mode, name, n)
                    WHERE u.mode = 't') a
             WHERE p.proname LIKE 'crm\\_api\\_%'
             ORDER BY p.proname, a.column_no
            """).rows
        let columns = try rows.map {
            try [$0.decode(String.self, column: 0), String($0.decode(Bool.self, column: 1)),
                 $0.decode(String.self, column: 2), $0.decode(String.self, column: 3)]
        }
        let expected = ["crm_api_create", "crm_api_create_idempotent", "crm_api_delete", "crm_api_suppress", "crm_api_upsert"].flatMap { function in
            [[function, "true", "outcome", "crm_api_outcome"], [function, "true", "contact_id", "bigint"],
             [function, "true", "payload", "json"]]
                // sql/011: whether the answer is a stored one, given again.
                + (function == "crm_api_create_idempotent" ? [[function, "true", "replayed", "boolean"]] : [])
        }
        // Every overload (sql/018 adds ones taking the actor) returns the same columns.
        XCTAssertEqual(columns, expected, "each returns TABLE (outcome crm_api_outcome, contact_id bigint, payload json[, replayed boolean])")
    }

    func testEveryAPIFunctionReturnsRowsOfTheEnum() async throws {
        let calls = [
            "crm_api_create($1::bytea, 1, NULL, NULL, 'a@example.com', NULL, NULL)",
            "crm_api_upsert($1::bytea, 1, NULL, NULL, NULL, 'a@example.com', NULL, NULL, false, false, true, false, false)",
            "crm_api_delete($1::bytea, 1, NULL, 'a@example.com', NULL)",
        ]
        for call in calls {
            // A key that does not exist: every function answers 'forbidden' and does nothing.
            let row = try await connection.query("SELECT pg_typeof(outcome)::text, outcome::text FROM \(call)",
                                                 [PostgresBytes([UInt8](repeating: 7, count: 32))])[0]
            XCTAssertEqual(try row.decode(String.self, column: 0), "crm_api_outcome", call)
            XCTAssertEqual(try row.decode(String.self, column: 1), "forbidden", call)
        }
        let contacts = try await connection.query("SELECT count(*) FROM contacts")[0].decode(Int.self, column: 0)
        XCTAssertEqual(contacts, 0)
    }

    func testALabelOutsideTheTypeIsRefused() async throws {
        do {
            try await connection.query("SELECT 'maybe'::crm_api_outcome")
            XCTFail("'maybe' is no crm_api_outcome")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, SQLState("22P02"), "\(error)")  // invalid_text_representation
        }
    }
}
