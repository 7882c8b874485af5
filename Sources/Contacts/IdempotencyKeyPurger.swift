import Postgres
import Synchronization

/// Deletes stored Idempotency-Key answers older than their retention (24 hours, API.md §9),
/// in the background of `crm serve`: every `interval`, batches of `batchSize` rows, each batch
/// its own short statement (`crm_purge_idempotency_keys`, sql/011, which skips rows another
/// purger holds), until a batch comes back short. Requests never wait for it; with several
/// instances each purges, and they share the work.
///
/// A failed purge (the database away) is counted in `crm_db_errors_total` and tried again at
/// the next interval: nothing is lost by waiting, the rows are only kept longer.
public final class IdempotencyKeyPurger: Sendable {
    public static let retention: Duration = .seconds(24 * 3600)

    public let pool: ConnectionPool
    public let interval: Duration
    public let batchSize: Int
    public let databaseErrors: DatabaseErrorCounter
    private let task = Mutex<Task<Void, Never>?>(nil)

    static let purge = PreparedStatement(name: "crm_purge_idempotency_keys", sql: """
        SELECT crm_purge_idempotency_keys(make_interval(secs => $1::double precision), $2::int)
        """)

    public init(pool: ConnectionPool, interval: Duration = .seconds(300), batchSize: Int = 1000,
                databaseErrors: DatabaseErrorCounter = DatabaseErrorCounter()) {
        self.pool = pool
        self.interval = interval
        self.batchSize = batchSize
        self.databaseErrors = databaseErrors
    }

    /// Starts purging every ``interval`` (the first after one interval).
    public func start() {
        task.withLock { running in
            guard running == nil else { return }
            running = Task { [self] in
                while (try? await Task.sleep(for: interval)) != nil {
                    _ = try? await purgeExpired()
                }
            }
        }
    }

    public func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }

    /// Deletes every answer older than `olderThan` now, batch by batch; returns how many.
    @discardableResult
    public func purgeExpired(olderThan: Duration = retention) async throws -> Int {
        let seconds = Double(olderThan.components.seconds)
        var total = 0
        while !Task.isCancelled {
            let deleted: Int
            do {
                deleted = try await pool.execute(Self.purge, [seconds, batchSize])[0].decode(Int.self, column: 0)
            } catch {
                databaseErrors.record(error)
                throw error
            }
            total += deleted
            if deleted < batchSize { break }
        }
        return total
    }
}
