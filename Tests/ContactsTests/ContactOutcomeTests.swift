import Contacts
import Postgres
import TestSupport
import XCTest

/// Item 8: the outcome of the `crm_api_*` functions is the enum type `crm_api_outcome`,
/// decoded into ``ContactOutcome``; a label the build does not know is a decoding error.
final class ContactOutcomeTests: ContactsTestCase {
    /// Decodes column 0 of every row of `query` as a ``ContactOutcome``.
    private func outcomes(_ query: String) throws -> [ContactOutcome] {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect()
            do {
                let decoded = try await connection.query(query).rows.map { try $0.decode(ContactOutcome.self, column: 0) }
                await connection.close()
                return decoded
            } catch {
                await connection.close()
                throw error
            }
        }
    }

    func testEveryLabelOfTheTypeDecodesIntoItsCaseInOrder() throws {
        let decoded = try outcomes("SELECT unnest(enum_range(NULL::crm_api_outcome)) AS outcome")
        XCTAssertEqual(decoded, ContactOutcome.allCases, "one case per label, in the type's order")
        XCTAssertEqual(decoded.map(\.rawValue), ["forbidden", "created", "updated", "deleted", "not_found", "duplicate",
                                                 "blacklisted", "conflict", "invalid", "last_contact_point",
                                                 "in_flight", "idempotency_key_reused", "suppressed"])
    }

    func testALabelTheBuildDoesNotKnowIsATypedDecodingError() throws {
        for label in ["archived", "Created", "not found", ""] {
            XCTAssertNil(ContactOutcome(postgresText: ArraySlice(label.utf8)), label)
            do {
                _ = try outcomes("SELECT '\(label)'::text AS outcome")
                XCTFail("'\(label)' must not decode")
            } catch let error as PostgresError {
                XCTAssertEqual(error.kind, .decoding, "\(error)")
                XCTAssertEqual(error.column, "outcome")
            }
        }
    }

    /// A newer schema with a label this build lacks: the write fails as a `500` counted under
    /// `decode`, names the column and changes nothing more than the function did.
    func testAWriteReportingAnUnknownLabelIsA500CountedAsDecode() throws {
        try sql("ALTER TYPE crm_api_outcome ADD VALUE 'archived'")
        try sql("""
            CREATE OR REPLACE FUNCTION crm_api_delete(
                p_key_hash bytea, p_listing_id bigint, p_contact_id bigint, p_email text, p_phone text)
            RETURNS TABLE (outcome crm_api_outcome, contact_id bigint, payload json)
            LANGUAGE sql AS $$ SELECT 'archived'::crm_api_outcome, p_contact_id, NULL::json $$
            """)
        XCTAssertEqual(try post(1, [("email", "kept@example.com")]).status, 201)
        let response = try delete(1, [("email", "kept@example.com")])
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.bodyText, #"{"status":"error","code":"internal","message":"An unexpected error occurred.","data":{}}"#)
        let line = errorLog.all.first ?? ""
        XCTAssertTrue(line.contains(" error=postgres.decoding column=outcome\n"), line)
        XCTAssertEqual(try metric(#"crm_db_errors_total{class="decode"}"#), 1)
        XCTAssertEqual(try contactCount(1), 1)
    }
}
