import Dispatch
import Foundation
import Postgres
import Synchronization
import TestSupport
import XCTest

/// PUT under concurrency (sql/007_race_free_upsert.sql): a PUT whose contact is deleted while it
/// waits behaves as if it came after the DELETE, and concurrent PUTs of one new email create
/// exactly one contact and never answer 409. Writers hold real row locks in their own sessions.
final class UpsertRaceTests: ContactsTestCase {
    /// Room for every concurrent writer to hold its own backend at once.
    override var poolSize: Int { 50 }

    func testAPutWithoutIDWhoseContactIsDeletedMeanwhileCreatesIt() throws {
        try assertPutAfterConcurrentDelete(identifiedByID: false)
    }

    func testAPutWithAnIDWhoseContactIsDeletedMeanwhileCreatesIt() throws {
        try assertPutAfterConcurrentDelete(identifiedByID: true)
    }

    /// A session deletes the contact and keeps its transaction open; the PUT starts and blocks on
    /// the row lock (seen in pg_stat_activity); the DELETE commits; the PUT must create.
    private func assertPutAfterConcurrentDelete(identifiedByID: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let created = try post(1, [("email", "gone@example.com"), ("first_name", "Old")])
        XCTAssertEqual(created.status, 201, file: file, line: line)
        let oldID = contact(created)["contact_id"] as? Int ?? -1
        let deleter = try blocking { [database] in try await database!.connect(applicationName: "deleter") }
        try blocking {
            _ = try await deleter.simpleQuery("BEGIN; DELETE FROM contacts WHERE listing_id = 1 AND contact_id = \(oldID)")
        }

        let port = server.port, key = keyA!
        let fields = (identifiedByID ? [("id", "\(oldID)")] : []) + [("email", "gone@example.com"), ("first_name", "New")]
        let answer = Mutex<Result<RawHTTPClient.Response, Error>?>(nil)
        let answered = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let result = Result { try Self.call(port: port, "PUT", "/crm/1", key: key, body: .form(fields)) }
            answer.withLock { $0 = result }
            answered.signal()
        }
        try waitForLockWaiters(1, onListingNode: 1)
        try blocking { _ = try await deleter.simpleQuery("COMMIT") }
        XCTAssertEqual(answered.wait(timeout: .now() + 10), .success, "the PUT answered after the DELETE committed", file: file, line: line)
        let response = try XCTUnwrap(answer.withLock { $0 }, file: file, line: line).get()
        try blocking { await deleter.close() }

        XCTAssertEqual(response.status, 201, response.bodyText, file: file, line: line)
        XCTAssertEqual(response.json["message"] as? String, "New contact successfully created.", file: file, line: line)
        let body = contact(response)
        let newID = try XCTUnwrap(body["contact_id"] as? Int, response.bodyText, file: file, line: line)
        XCTAssertNotEqual(newID, oldID, file: file, line: line)
        XCTAssertEqual(body["contact_email"] as? String, "gone@example.com", file: file, line: line)
        XCTAssertEqual(body["contact_first_name"] as? String, "New", file: file, line: line)
        let table = try rows()
        XCTAssertEqual(table.count, 1, "\(table)", file: file, line: line)
        XCTAssertEqual(table.first?["contact_id"] as? Int, newID, file: file, line: line)
        XCTAssertEqual(table.first?["email"] as? String, "gone@example.com", file: file, line: line)
        XCTAssertEqual(table.first?["first_name"] as? String, "New", file: file, line: line)
    }

    func testFiftyConcurrentPutsOfOneNewEmailCreateOnceAndUpdateTheRest() throws {
        let writers = 50
        for round in 1...3 {
            let email = "together-\(round)@example.com"
            let statuses = try concurrentPuts(writers) { index in [("email", email), ("first_name", "Writer \(index)")] }
            XCTAssertEqual(statuses.filter { $0 == 201 }.count, 1, "round \(round): \(statuses)")
            XCTAssertEqual(statuses.filter { $0 == 200 }.count, writers - 1, "round \(round): \(statuses)")
            XCTAssertEqual(try contactCount(1), round, "round \(round): one contact per email")
        }
    }

    func testConcurrentPutsByEmailAndPhoneOfOneNewContactNeverConflict() throws {
        let statuses = try concurrentPuts(50) { index in
            // Half know the email, half the phone, some both: all mean the same new contact.
            switch index % 3 {
            case 0: return [("email", "both@example.com"), ("phone", "15550001000")]
            case 1: return [("email", "both@example.com"), ("last_name", "L\(index)")]
            default: return [("email", "both@example.com"), ("phone", "+1 555 000 1000")]
            }
        }
        XCTAssertEqual(statuses.filter { $0 == 201 }.count, 1, "\(statuses)")
        XCTAssertEqual(statuses.filter { $0 == 200 }.count, 49, "\(statuses)")
        let table = try rows()
        XCTAssertEqual(table.count, 1, "\(table)")
        XCTAssertEqual(table.first?["email"] as? String, "both@example.com")
        XCTAssertEqual(table.first?["phone"] as? String, "15550001000")
    }

    func testPutsRacingDeletesOfTheSameEmailNeverConflictNorAnswerAnEmptyContact() throws {
        for round in 1...5 {
            let email = "churn-\(round)@example.com"
            XCTAssertEqual(try post(1, [("email", email)]).status, 201)
            let answers = try concurrentRequests(50) { index in
                index % 5 == 0 ? ("DELETE", [("email", email)]) : ("PUT", [("email", email), ("first_name", "W\(index)")])
            }
            for (index, response) in answers.enumerated() {
                if index % 5 == 0 {
                    XCTAssertTrue([202, 404].contains(response.status), "round \(round) DELETE: \(response.status) \(response.bodyText)")
                } else {
                    XCTAssertTrue([200, 201].contains(response.status), "round \(round) PUT: \(response.status) \(response.bodyText)")
                    XCTAssertNotNil(contact(response)["contact_id"] as? Int, "round \(round) PUT: \(response.bodyText)")
                    XCTAssertEqual(contact(response)["contact_email"] as? String, email, "round \(round) PUT: \(response.bodyText)")
                }
            }
            XCTAssertLessThanOrEqual(try rows().filter { $0["email"] as? String == email }.count, 1, "round \(round)")
        }
    }

    /// `count` clients, each on its own TCP connection (connected before any sends), PUT at once.
    private func concurrentPuts(_ count: Int, fields: @escaping @Sendable (Int) -> [(String, String)]) throws -> [Int] {
        try concurrentRequests(count) { ("PUT", fields($0)) }.map(\.status)
    }


    /// Listing 1's rows with every column (``ContactsTestCase/contactsTable(_:)``), by id.
    private func rows() throws -> [[String: Any]] {
        try contactsTable(1).map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], $0) }
    }
}
