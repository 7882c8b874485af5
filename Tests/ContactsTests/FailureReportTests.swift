import Contacts
import Foundation
import Postgres
import TestSupport
import XCTest

/// Item 12: a `500` logs its cause (never what the request carried), and `crm_db_errors_total`
/// counts database errors of every path under their real class.
final class FailureReportTests: ContactsTestCase {
    func testA500LogsItsCauseAndNothingTheRequestCarried() throws {
        // A guard on contacts that raises, its message and detail quoting the values.
        try sql("""
            CREATE FUNCTION crm_test_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'refusing %', NEW.email
                    USING ERRCODE = '22012', DETAIL = 'phone ' || coalesce(NEW.phone, '-'),
                          CONSTRAINT = 'crm_test_guard', TABLE = 'contacts', COLUMN = 'email';
            END $$
            """)
        try sql("CREATE TRIGGER crm_test_guard BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION crm_test_guard()")
        let response = try call("POST", "/crm/1", key: keyA,
                                body: .form([("email", "private.person@example.com"), ("phone", "15550001234"), ("first_name", "Secretname")]),
                                headers: [("X-Request-Id", "trace-500")])
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.bodyText, #"{"status":"error","code":"internal","message":"An unexpected error occurred.","data":{}}"#)
        XCTAssertEqual(response.header("X-Request-Id"), "trace-500")
        let lines = errorLog.all
        XCTAssertEqual(lines.count, 1)
        let line = lines.first ?? ""
        // A worker's error reaches a Citus coordinator without its constraint, table and column fields.
        let fields = TestDatabase.isCitus ? "" : " constraint=crm_test_guard table=contacts column=email"
        let rest = " level=error msg=internal_error request_id=trace-500 route=/crm/{listing_id} error=postgres.server sqlstate=22012\(fields)\n"
        XCTAssertTrue(line.hasPrefix("time=") && line.hasSuffix(rest), line)
        XCTAssertFalse(line.dropFirst(5).dropLast(rest.count).contains(" "), "only the time before the rest: \(line)")
        for secret in ["private.person", "15550001234", "Secretname", "refusing", keyA.text, String(keyA.text.dropFirst(12))] {
            XCTAssertFalse(line.contains(secret), "\(secret) is not in the error log")
        }
        XCTAssertEqual(try metric(#"crm_db_errors_total{class="22"}"#), 1)
        XCTAssertEqual(try contactCount(), 0)
        XCTAssertEqual(try get(1).status, 404, "a 4xx is no failure: nothing more is logged")
        XCTAssertEqual(errorLog.all.count, 1)
    }

    func testAServerErrorInTheKeyLookupIsA500CountedUnderItsSQLStateClass() throws {
        try sql("ALTER TABLE api_keys RENAME COLUMN rate_limit TO rate_limit_renamed")
        let response = try call("GET", "/crm/1", key: keyA, headers: [("X-Request-Id", "lookup-42")])
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.json["code"] as? String, "internal")
        XCTAssertEqual(errorLog.all.count, 1)
        let line = errorLog.all.first ?? ""
        XCTAssertTrue(line.contains(" request_id=lookup-42 route=/crm/{listing_id} error=postgres.server sqlstate=42703\n"), line)
        XCTAssertFalse(line.contains("rate_limit"), "the message, which names the column, is not logged: \(line)")
        XCTAssertEqual(try metric(#"crm_db_errors_total{class="42"}"#), 1)
    }

    func testAResultThatCannotBeReadIsCountedAsDecodeNotConnection() throws {
        try sql("ALTER TABLE api_keys DROP CONSTRAINT api_keys_rate_limit_check")
        try sql("ALTER TABLE api_keys ALTER COLUMN rate_limit TYPE text USING rate_limit::text")
        try sql("UPDATE api_keys SET rate_limit = 'fast' WHERE key_hash = $1::bytea", [PostgresBytes(keyB.digest)])
        let response = try get(2)
        XCTAssertEqual(response.status, 500)
        XCTAssertEqual(response.json["code"] as? String, "internal")
        let line = errorLog.all.first ?? ""
        XCTAssertTrue(line.contains(" error=postgres.decoding column=rate_limit\n"), line)
        XCTAssertFalse(line.contains("fast"))
        XCTAssertEqual(try metric(#"crm_db_errors_total{class="decode"}"#), 1)
        XCTAssertEqual(try metric(#"crm_db_errors_total{class="connection"}"#), 0)
        XCTAssertEqual(try get(1).status, 404, "a key whose row reads fine is served")
    }
}
