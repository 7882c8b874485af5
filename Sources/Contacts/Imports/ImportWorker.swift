import Postgres
import Synchronization

/// Applies staged imports in the background of `crm serve` (API.md §12): it asks which listings
/// have unfinished jobs (`crm_import_pending()`, sql/018) and calls
/// `crm_import_step_listing(listing, chunk)` for each in turn until one does a step, again and
/// again. Each call is one transaction that claims the listing's oldest unfinished job with
/// `FOR UPDATE SKIP LOCKED` and applies its next `chunk` rows (on Citus, on the listing's
/// worker). So several instances share the jobs, a job interrupted by a crash (of this process
/// or of PostgreSQL) goes on from its last committed chunk, and no row is applied twice.
///
/// With nothing to do it sleeps until an upload of this process wakes it (``wake()``) or the
/// poll interval passes (an upload to another instance, or a job left by a crash); every 5 s
/// it also reads ``ImportStatistics``. A database error is counted and retried after the
/// poll interval.
public final class ImportWorker: Sendable {
    public let pool: ConnectionPool
    /// Jobs applied at once (each loop claims its own job).
    public let workers: Int
    /// Rows per transaction.
    public let chunkSize: Int
    public let pollInterval: Duration
    public let statistics: ImportStatistics
    public let databaseErrors: DatabaseErrorCounter
    private let tasks = Mutex<[Task<Void, Never>]>([])
    /// Loops asleep, and whether a wake-up came while none was.
    private let signal = Mutex<(woken: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    static let pending = PreparedStatement(name: "crm_import_pending", sql: "SELECT listing_id FROM crm_import_pending()")
    static let step = PreparedStatement(name: "crm_import_step_listing", sql: """
        SELECT import_id, status, applied FROM crm_import_step_listing($1::bigint, $2::int)
        """)

    public init(pool: ConnectionPool, workers: Int = 1, chunkSize: Int = 10_000, pollInterval: Duration = .seconds(1),
                statistics: ImportStatistics = ImportStatistics(), databaseErrors: DatabaseErrorCounter = DatabaseErrorCounter()) {
        self.pool = pool
        self.workers = workers
        self.chunkSize = chunkSize
        self.pollInterval = pollInterval
        self.statistics = statistics
        self.databaseErrors = databaseErrors
    }

    public func start() {
        tasks.withLock { running in
            guard running.isEmpty else { return }
            running = (0..<workers).map { index in Task { [self] in await run(readsStatistics: index == 0) } }
        }
    }

    /// Stops after the steps in progress (each transaction commits or rolls back whole).
    public func stop() async {
        let running = tasks.withLock { running -> [Task<Void, Never>] in
            defer { running = [] }
            return running
        }
        for task in running { task.cancel() }
        for _ in running { wake() }
        for task in running { await task.value }
    }

    /// An upload was committed: look for work now.
    public func wake() {
        let waiters = signal.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.woken = state.waiters.isEmpty
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Applies chunks until no job is left; returns how many steps ran. What the loop does,
    /// callable directly (tests, `crm import`).
    @discardableResult
    public func runUntilIdle() async throws -> Int {
        var steps = 0
        while !Task.isCancelled, try await runStep() { steps += 1 }
        return steps
    }

    /// One chunk of the oldest unfinished job no other transaction holds, of the first listing
    /// (oldest job first) that has one; false when there was none.
    func runStep() async throws -> Bool {
        do {
            for row in try await pool.execute(Self.pending).rows {
                if try await applyStep(listing: try row.decode(Int64.self, column: 0)) { return true }
            }
            return false
        } catch {
            databaseErrors.record(error)
            throw error
        }
    }

    /// One chunk of the listing's oldest unfinished job, in a transaction of its own; false when
    /// the listing has none that no other transaction holds. The step may take longer than the
    /// pool's `statement_timeout` allows a request (``ImportSettings/stepTimeout``).
    private func applyStep(listing: Int64) async throws -> Bool {
        try await pool.withConnection { connection in
            try await connection.transaction { connection in
                try await connection.simpleQuery("SET LOCAL statement_timeout = '\(ImportSettings.stepTimeout)'")
                return try await connection.execute(Self.step, [listing, chunkSize]).rowCount > 0
            }
        }
    }

    private func run(readsStatistics: Bool) async {
        var lastReading = ContinuousClock.now - .seconds(10)
        while !Task.isCancelled {
            let worked = (try? await runStep()) ?? false
            if readsStatistics, ContinuousClock.now - lastReading >= .seconds(5) {
                lastReading = .now
                try? await statistics.refresh(pool: pool)
            }
            if !worked { await sleep() }
        }
    }

    /// Until ``wake()`` or the poll interval.
    private func sleep() async {
        let timer = Task { [self] in
            try? await Task.sleep(for: pollInterval)
            wake()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resume = signal.withLock { state -> Bool in
                if state.woken || Task.isCancelled {
                    state.woken = false
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resume { continuation.resume() }
        }
        timer.cancel()
    }
}
