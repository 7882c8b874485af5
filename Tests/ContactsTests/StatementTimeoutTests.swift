import Dispatch
import Foundation
import Postgres
import TestSupport
import XCTest

/// No statement holds a pooled connection forever: `statement_timeout` and `lock_timeout` on
/// every pooled connection turn a stuck request into a `503` with `Retry-After`, and the
/// connection goes back to the pool clean.
final class StatementTimeoutTests: ContactsTestCase {
    override var statementTimeout: Duration? { .seconds(1) }

    func testAPutBlockedByAnotherSessionsRowLockAnswers503AndTheNextRequestIsServed() throws {
        let created = try post(1, [("email", "locked@example.com"), ("first_name", "Before")])
        XCTAssertEqual(created.status, 201)
        let id = contact(created)["contact_id"] as? Int ?? -1
        let locker = try blocking { [database] in try await database!.connect(applicationName: "locker") }
        try blocking { _ = try await locker.simpleQuery("BEGIN; SELECT 1 FROM contacts WHERE listing_id = 1 AND contact_id = \(id) FOR UPDATE") }

        let started = DispatchTime.now()
        let blocked = try put(1, [("id", "\(id)"), ("first_name", "After")])
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        XCTAssertEqual(blocked.status, 503, blocked.bodyText)
        XCTAssertEqual(blocked.json["code"] as? String, "unavailable")
        XCTAssertEqual(blocked.header("Retry-After"), "1")
        XCTAssertGreaterThanOrEqual(seconds, 0.9, "it waited for the lock up to the timeout")
        XCTAssertLessThan(seconds, 5, "and no longer than the timeout (1 s) allows")

        // The pool is whole again: the next requests are served, reads even while the lock stays.
        let read = try get(1, "id=\(id)")
        XCTAssertEqual(read.status, 200)
        XCTAssertEqual(try post(1, [("email", "next@example.com")]).status, 201)
        // (The POST's NOTIFY to webhook dispatchers, ChangeNotifier, may hold one for a moment.)
        try waitUntil("every connection went back", timeout: .seconds(2), observe: { pool.statistics.inUse }) { $0 == 0 }
        try blocking {
            _ = try await locker.simpleQuery("ROLLBACK")
            await locker.close()
        }
        let stored = (data(try get(1, "id=\(id)"))["results"] as? [[String: Any]])?.first
        XCTAssertEqual(stored?["contact_first_name"] as? String, "Before", "the timed-out PUT changed nothing")
        let after = try put(1, [("id", "\(id)"), ("first_name", "After")])
        XCTAssertEqual(after.status, 200, "served once the lock is gone")
    }

    func testAStatementRunningPastTheTimeoutIsCancelledAndItsConnectionReused() throws {
        let pool = self.pool!
        let outcome = try blocking { () -> (Bool, Int) in
            var timedOut = false
            do {
                _ = try await pool.withConnection { try await $0.query("SELECT pg_sleep(3)") }
            } catch let error as PostgresError {
                timedOut = error.isTimeout
            }
            let value = try await pool.withConnection { try await $0.query("SELECT 41 + 1") }[0].decode(Int.self, column: 0)
            return (timedOut, value)
        }
        XCTAssertTrue(outcome.0, "pg_sleep(3) is cancelled by statement_timeout (1 s) with SQLSTATE 57014")
        XCTAssertEqual(outcome.1, 42)
    }

    func testTheTimeoutsComeAfterTheConnectionStringsOwnOptions() throws {
        let configuration = PostgresConfiguration(connectionString: database.connectionString + " options='-c work_mem=1234kB'",
                                                  statementTimeout: .milliseconds(2500))
        let settings = try blocking { [configuration] in
            let connection = try await PostgresConnection.connect(configuration, on: TestDatabase.loop)
            let result = try await connection.query(
                "SELECT current_setting('work_mem'), current_setting('statement_timeout'), current_setting('lock_timeout')")
            await connection.close()
            return try (0..<3).map { try result[0].decode(String.self, column: $0) }
        }
        XCTAssertEqual(settings, ["1234kB", "2500ms", "2500ms"])
    }
}
