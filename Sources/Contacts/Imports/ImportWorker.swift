import Postgres
import Synchronization

/// Applies staged imports in the background of `crm serve` (API.md §12): it asks which listings
/// have unfinished jobs (`crm_import_pending()`, sql/018) and calls
/// `crm_import_step_listing(listing, chunk)` for the first until it has nothing left, then
/// for the next, asking again when the list runs dry. Each call is one transaction that claims the listing's oldest unfinished job with
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
        var pending: [Int64] = []
        while !Task.isCancelled, try await runStep(&pending) { steps += 1 }
        return steps
    }

    /// One chunk of the oldest unfinished job no other transaction holds, of the first listing
    /// in `pending` that has one; false when there was none. `pending` is the loop's list of
    /// listings with unfinished jobs (oldest job first, from `crm_import_pending()`): the
    /// first is stepped until it has nothing left, then dropped, and the list is asked for
    /// again only when it runs dry, so a job costs two such queries, not one per chunk.
    func runStep(_ pending: inout [Int64]) async throws -> Bool {
        do {
            var refreshed = false
            while true {
                if pending.isEmpty {
                    if refreshed { return false }
                    pending = try await pool.execute(Self.pending).rows.map { try $0.decode(Int64.self, column: 0) }
                    refreshed = true
                    continue
                }
                if try await applyStep(listing: pending[0]) { return true }
                pending.removeFirst()
            }
        } catch {
            databaseErrors.record(error)
            throw error
        }
    }

    /// One chunk of the listing's oldest unfinished job, in a transaction of its own; false when
    /// the listing has none that no other transaction holds. The step may take longer than the
    /// pool's `statement_timeout` allows a request (``ImportSettings/stepTimeout``).
    private func applyStep(listing: Int64) async throws -> Bool {
        try await pool.withConnection { try await Self.step(listing: listing, chunk: chunkSize, on: $0) }
    }

    /// One chunk of `listing`'s oldest unfinished job on `connection`, in a transaction of its
    /// own: the step of the loop, and of `crm import` (``ImportStore/apply(_:chunk:on:)``).
    static func step(listing: Int64, chunk: Int, on connection: PostgresConnection) async throws -> Bool {
        try await connection.transaction { connection in
            try await connection.simpleQuery("SET LOCAL statement_timeout = '\(ImportSettings.stepTimeout)'")
            return try await connection.execute(step, [listing, chunk]).rowCount > 0
        }
    }

    private func run(readsStatistics: Bool) async {
        var lastReading = ContinuousClock.now - .seconds(10)
        var pending: [Int64] = []
        while !Task.isCancelled {
            let worked = (try? await runStep(&pending)) ?? false
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
