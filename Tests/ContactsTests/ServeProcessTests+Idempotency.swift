import Contacts
import Foundation
import Glibc
import Postgres
import Synchronization
import TestSupport
import XCTest

/// `Idempotency-Key` across processes (API.md §9): a stored answer outlives the process that
/// stored it, and a request whose server was killed mid-flight is written at most once.
extension ServeProcessTests {
    private static func idempotentPost(port: Int, key: APIKey, listing: Int64, idempotencyKey: String, email: String) throws -> RawHTTPClient.Response {
        let body = "email=\(email)"
        let client = try RawHTTPClient(port: port, timeout: 10)
        try client.send("POST /crm/\(listing) HTTP/1.1\r\nAuthorization: Bearer \(key.text)\r\nIdempotency-Key: \(idempotencyKey)\r\n"
                        + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        return try client.readResponse()
    }

    /// (contacts, stored answers) of `listing`, straight from the tables.
    private func rowCounts(listing: Int64) throws -> [Int] {
        let database = self.database!
        return try blocking {
            let connection = try await database.connect()
            let row = try await connection.query("""
                SELECT (SELECT count(*) FROM contacts WHERE listing_id = $1::bigint),
                       (SELECT count(*) FROM idempotency_keys WHERE listing_id = $1::bigint)
                """, [listing])[0]
            let counts = [try row.decode(Int.self, column: 0), try row.decode(Int.self, column: 1)]
            await connection.close()
            return counts
        }
    }

    func testAStoredAnswerIsReplayedByTheNextProcess() throws {
        let (process, port) = try serve()
        let key = try createKey(listing: 11)
        let first = try Self.idempotentPost(port: port, key: key, listing: 11, idempotencyKey: "restart-1", email: "r%40example.com")
        XCTAssertEqual(first.status, 201)
        XCTAssertEqual(kill(process.pid, SIGTERM), 0)
        XCTAssertEqual(process.wait().status, 0)
        processes.removeAll()
        let (_, again) = try serve()
        let replay = try Self.idempotentPost(port: again, key: key, listing: 11, idempotencyKey: "restart-1", email: "r%40example.com")
        XCTAssertEqual(replay.status, 201)
        XCTAssertEqual(replay.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(replay.bodyText, first.bodyText)
        XCTAssertEqual(try rowCounts(listing: 11), [1, 1])
    }

    func testARetryAfterTheServerWasKilledMidRequestWritesOnce() throws {
        // Watches pg_locks for `contacts` on one node: on Citus the write waits on a worker's shard.
        try XCTSkipIf(TestDatabase.isCitus, "holds and watches a table lock on a single node")
        let (process, port) = try serve()
        let key = try createKey(listing: 12)
        let database = self.database!
        let holder = Mutex<PostgresConnection?>(nil)
        try blocking {
            let connection = try await database.holdTableLock("contacts")
            holder.withLock { $0 = connection }
        }
        Thread.detachNewThread {
            _ = try? Self.idempotentPost(port: port, key: key, listing: 12, idempotencyKey: "crash-1", email: "c%40example.com")
        }
        try waitUntil("the POST waits for the contacts lock (pg_locks)", observe: blockedOnContacts) { $0 == 1 }
        process.kill(SIGKILL)
        _ = process.wait()
        processes.removeAll()
        try blocking {
            let connection = holder.withLock { $0 }!
            try await connection.simpleQuery("COMMIT")
            await connection.close()
        }
        // The killed server's statement may still finish in PostgreSQL (it commits, or not);
        // until it does, the key is in flight. Either way the retry writes at most once more.
        let (_, again) = try serve()
        var retry = try Self.idempotentPost(port: again, key: key, listing: 12, idempotencyKey: "crash-1", email: "c%40example.com")
        let deadline = Date().addingTimeInterval(10)
        while retry.status == 409, Date() < deadline {
            XCTAssertEqual(retry.json["code"] as? String, "idempotency_key_in_flight")
            Thread.sleep(forTimeInterval: 0.1)
            retry = try Self.idempotentPost(port: again, key: key, listing: 12, idempotencyKey: "crash-1", email: "c%40example.com")
        }
        XCTAssertEqual(retry.status, 201, "written by the retry, or replayed: \(retry.bodyText)")
        XCTAssertEqual(try rowCounts(listing: 12), [1, 1], "one contact and its stored answer, whichever wrote it")
        let replay = try Self.idempotentPost(port: again, key: key, listing: 12, idempotencyKey: "crash-1", email: "c%40example.com")
        XCTAssertEqual(replay.header("Idempotent-Replayed"), "true")
        XCTAssertEqual(try rowCounts(listing: 12), [1, 1])
    }
}
