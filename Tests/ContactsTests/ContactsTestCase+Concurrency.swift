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
        return try blocking {
            let connection = try await database.connect(applicationName: "key-table-holder")
            try await connection.simpleQuery("BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
            return connection
        }
    }

    func unlockKeyTable(_ holder: PostgresConnection) throws {
        try blocking {
            try await holder.simpleQuery("ROLLBACK")
            await holder.close()
        }
    }

    /// Waits (at most 10 s) until `count` backends of the test database wait for a lock.
    func waitForLockWaiters(_ count: Int) throws {
        let database = self.database!
        try waitUntil("\(count) backend(s) waiting for a lock", timeout: .seconds(10), observe: {
            try blocking {
                let connection = try await database.connect()
                let result = try await connection.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
                await connection.close()
                return try result[0].decode(Int.self, column: 0)
            }
        }) { $0 >= count }
    }
}
