import Contacts
import Dispatch
import Foundation
import Postgres
import Synchronization
import TestSupport
import XCTest

/// Requests sent at once on connections and threads of their own, and a session holding
/// `api_keys` locked so that the key gate's lookups wait in the database meanwhile.
extension ContactsTestCase {
    /// A request answered on a thread of its own: ``answer(timeout:)`` waits for it.
    final class PendingRequest: Sendable {
        struct NoAnswer: Error, CustomStringConvertible {
            let description: String
        }

        private let result = Mutex<Result<RawHTTPClient.Response, any Error>?>(nil)
        private let done = DispatchSemaphore(value: 0)

        init(port: Int, _ method: String, _ target: String, key: APIKey, host: String = "127.0.0.1") {
            Thread.detachNewThread {
                self.finish(Result { try ContactsTestCase.call(port: port, method, target, key: key, host: host) })
            }
        }

        private func finish(_ outcome: Result<RawHTTPClient.Response, any Error>) {
            result.withLock { $0 = outcome }
            done.signal()
        }

        func answer(timeout: Double = 20) throws -> RawHTTPClient.Response {
            guard done.wait(timeout: .now() + timeout) == .success else {
                throw NoAnswer(description: "no answer within \(timeout) s")
            }
            return try result.withLock { $0! }.get()
        }
    }

    /// A session of its own that holds `api_keys` in ACCESS EXCLUSIVE mode: every key lookup
    /// waits for it. Roll it back to let them go.
    func lockKeyTable() throws -> PostgresConnection {
        let database = self.database!
        return try blocking { try await database.holdTableLock("api_keys", applicationName: "key-table-holder") }
    }

    func unlockKeyTable(_ holder: PostgresConnection) throws {
        try blocking {
            try await holder.simpleQuery("ROLLBACK")
            await holder.close()
        }
    }

    /// Waits (at most 10 s) until `count` backends of the test database wait for a lock.
    func waitForLockWaiters(_ count: Int, onListingNode listing: Int64? = nil) throws {
        let database = self.database!
        try waitUntil("\(count) backend(s) waiting for a lock", timeout: .seconds(10), observe: {
            try blocking {
                // On Citus a write runs on its listing's worker, and waits there.
                let connection = if let listing {
                    try await database.connectToListingNode(listing, applicationName: "lock-watcher")
                } else {
                    try await database.connect(applicationName: "lock-watcher")
                }
                let result = try await connection.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
                await connection.close()
                return try result[0].decode(Int.self, column: 0)
            }
        }) { $0 >= count }
    }

    /// `count` clients, each on its own TCP connection (connected before any sends), send the
    /// `request(index)` to `/crm/1` with key A at once; the answers in client order (status -1:
    /// no answer). 50 of them are 50 requests in flight together (not `concurrentPerform`, which
    /// runs two at a time on a 2-core machine).
    func concurrentRequests(
        _ count: Int, _ request: @escaping @Sendable (Int) -> (method: String, fields: [(String, String)])
    ) throws -> [RawHTTPClient.Response] {
        let port = server.port, key = keyA!
        let clients = try (0..<count).map { _ in try RawHTTPClient(port: port, timeout: 30) }
        let answers = Mutex<[Int: RawHTTPClient.Response]>([:])
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for (index, client) in clients.enumerated() {
            nonisolated(unsafe) let client = client
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                let (method, fields) = request(index)
                let (contentType, bytes) = Self.encode(.form(fields))
                let head = "\(method) /crm/1 HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer \(key.text)\r\n"
                    + "Content-Type: \(contentType!)\r\nContent-Length: \(bytes.count)\r\n\r\n"
                start.wait()
                let response = (try? { try client.send(Array(head.utf8) + bytes); return try client.readResponse() }())
                    ?? RawHTTPClient.Response(status: -1, headers: [], body: [])
                answers.withLock { $0[index] = response }
            }
        }
        for _ in 0..<count { start.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "every request answered")
        return answers.withLock { answers in (0..<count).map { answers[$0]! } }
    }
}
