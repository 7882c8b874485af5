import Postgres

/// Deletes rows older than their retention in the background of `crm serve`: every
/// `interval`, batches of `batchSize` rows, each batch its own short statement (a SQL function
/// `crm_purge_…(older_than interval, batch integer) → integer`), until a batch comes back
/// short. Requests never wait for it; with several instances each purges, and they share the
/// work (the functions skip or wait for rows another purger holds).
///
/// Two run in the service: stored Idempotency-Key answers after 24 hours
/// (`crm_purge_idempotency_keys`, sql/011, API.md §9) and change feed events after
/// `--change-retention-days` (`crm_purge_changes`, sql/013, §10).
///
/// A failed purge (the database away) is counted in `crm_db_errors_total` and tried again at
/// the next interval: nothing is lost by waiting, the rows are only kept longer.
public final class RetentionPurger: Sendable {
    public let pool: ConnectionPool
    public let retention: Duration
    public let interval: Duration
    public let batchSize: Int
    public let databaseErrors: DatabaseErrorCounter
    private let statement: PreparedStatement
    private let loop: PeriodicTask

    /// Stored Idempotency-Key answers, kept 24 hours.
    public static func idempotencyKeys(pool: ConnectionPool, interval: Duration = .seconds(300), batchSize: Int = 1000,
                                       databaseErrors: DatabaseErrorCounter = DatabaseErrorCounter()) -> RetentionPurger {
        RetentionPurger(pool: pool, function: "crm_purge_idempotency_keys", retention: .seconds(24 * 3600), interval: interval,
                        batchSize: batchSize, databaseErrors: databaseErrors)
    }

    /// Change feed events, kept `days` days.
    public static func changes(pool: ConnectionPool, days: Int, interval: Duration = .seconds(300), batchSize: Int = 1000,
                               databaseErrors: DatabaseErrorCounter = DatabaseErrorCounter()) -> RetentionPurger {
        RetentionPurger(pool: pool, function: "crm_purge_changes", retention: .seconds(days * 24 * 3600), interval: interval,
                        batchSize: batchSize, databaseErrors: databaseErrors)
    }

    init(pool: ConnectionPool, function: String, retention: Duration, interval: Duration, batchSize: Int,
         databaseErrors: DatabaseErrorCounter) {
        self.pool = pool
        self.retention = retention
        self.interval = interval
        loop = PeriodicTask(every: interval)
        self.batchSize = batchSize
        self.databaseErrors = databaseErrors
        statement = PreparedStatement(name: function, sql: "SELECT \(function)(make_interval(secs => $1::double precision), $2::int)")
    }

    /// Starts purging every ``interval`` (the first after one interval).
    public func start() {
        loop.start { [self] in _ = try? await purgeExpired() }
    }

    public func stop() {
        loop.stop()
    }

    /// Deletes every row older than `olderThan` (the retention unless given) now, batch by
    /// batch; returns how many.
    @discardableResult
    public func purgeExpired(olderThan: Duration? = nil) async throws -> Int {
        let seconds = Double((olderThan ?? retention).components.seconds)
        var total = 0
        while !Task.isCancelled {
            let deleted: Int
            do {
                deleted = try await pool.execute(statement, [seconds, batchSize])[0].decode(Int.self, column: 0)
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
