import Postgres
import Synchronization

/// Delivers this process's share of webhooks (API.md §11): up to ``WebhookSettings/workers``
/// deliveries in flight, leased from the queue that every `crm serve` on the database shares
/// (``WebhookQueue``, sql/015), each sent by ``WebhookSender`` with no transaction open, its
/// outcome recorded by the next exchange.
///
/// One task runs the loop: exchange (record what finished, lease what is due into the free
/// slots), start the leased deliveries, then sleep until woken: by a delivery finishing, by a
/// write of this process or a `NOTIFY` from another (``ChangeNotifier``, ``WebhookListener``),
/// or by the poll tick (``WebhookSettings/pollInterval``), which also finds retries come due,
/// leases of dead processes expired, and changes written by plain SQL. A failed exchange (the
/// database away) keeps its outcomes for the next one and waits a second; deliveries whose
/// outcome is never recorded are sent again when their lease expires (at least once).
public final class WebhookDispatcher: Sendable {
    public let queue: WebhookQueue
    public let sender: WebhookSender
    public let statistics: WebhookStatistics
    public let databaseErrors: DatabaseErrorCounter
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation
    private let finished = Mutex<[WebhookQueue.Finished]>([])
    private let stopping = Atomic<Bool>(false)
    private let activeEndpoints = Atomic<Bool>(true)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    public init(queue: WebhookQueue, sender: WebhookSender, statistics: WebhookStatistics, databaseErrors: DatabaseErrorCounter) {
        self.queue = queue
        self.sender = sender
        self.statistics = statistics
        self.databaseErrors = databaseErrors
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var settings: WebhookSettings { queue.settings }

    /// Looks at the queue as soon as the loop is free (several wakes before then are one).
    public func wake() {
        wakeup.yield()
    }

    /// Contacts changed: wakes the loop, unless the last exchange found no active endpoint
    /// (then the poll tick is soon enough to notice one added, and a database with no
    /// webhooks pays no exchange per write).
    public func changed() {
        if activeEndpoints.load(ordering: .relaxed) { wake() }
    }

    /// Starts the loop, the poll tick and the backlog reader; nothing in a process that
    /// delivers none (workers 0: it never touches the queue).
    public func start() {
        tasks.withLock { tasks in
            guard tasks.isEmpty, settings.workers > 0 else { return }
            tasks.append(Task { [self] in await run() })
            tasks.append(Task { [self] in
                while (try? await Task.sleep(for: settings.pollInterval)) != nil { wake() }
            })
            tasks.append(Task { [self] in
                repeat {
                    do { try await statistics.refreshBacklog(pool: queue.pool) } catch { databaseErrors.record(error) }
                } while (try? await Task.sleep(for: .seconds(5))) != nil
            })
        }
    }

    /// Stops leasing, ends the transfers in flight (their deliveries handed back, to be sent
    /// again by any process) and records them; gives up recording after `gracePeriod`.
    public func stop(gracePeriod: Duration = .seconds(5)) async {
        let running = tasks.withLock { tasks in
            defer { tasks.removeAll() }
            return tasks
        }
        guard !running.isEmpty else { return }
        stopping.store(true, ordering: .releasing)
        await sender.client.shutdown()
        wake()
        let deadline = Task {
            try? await Task.sleep(for: gracePeriod)
            for task in running { task.cancel() }
        }
        for task in running.dropFirst() { task.cancel() }
        for task in running { await task.value }
        deadline.cancel()
    }

    private func run() async {
        var inFlight = 0
        var wakes = wakeups.makeAsyncIterator()
        while !Task.isCancelled {
            let done = takeFinished()
            inFlight -= done.count
            let stopping = stopping.load(ordering: .acquiring)
            if stopping && inFlight == 0 && done.isEmpty { return }
            let slots = stopping ? 0 : settings.workers - inFlight
            if !done.isEmpty || slots > 0 {
                do {
                    let exchange = try await queue.exchange(done, slots: slots)
                    statistics.count(exchange.recorded)
                    activeEndpoints.store(exchange.hasActiveEndpoints, ordering: .relaxed)
                    for delivery in exchange.leased { start(delivery) }
                    inFlight += exchange.leased.count
                    if slots > 0 && exchange.leased.count == slots { continue }  // more may be due
                } catch {
                    databaseErrors.record(error)
                    if Self.isWorthRetrying(error) {
                        finished.withLock { $0.insert(contentsOf: done, at: 0) }
                        inFlight += done.count
                    }  // else the leases expire and the deliveries are sent again: at least once
                    if (try? await Task.sleep(for: .seconds(1))) == nil { return }
                    continue
                }
            }
            if stopping && inFlight == 0 { return }
            _ = await wakes.next()
        }
    }

    /// Whether the outcomes of a failed exchange are brought to the next one: yes when the
    /// database was away or the transaction lost a race (deadlock, serialization, timeout);
    /// no when the exchange itself was refused, which would refuse them again forever.
    static func isWorthRetrying(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError else { return true }
        return error.isConnectionError || error.isTimeout || error.isNotRun || error.sqlState?.errorClass == "40"
            || error.kind == .client
    }

    private func takeFinished() -> [WebhookQueue.Finished] {
        finished.withLock { finished in
            defer { finished.removeAll() }
            return finished
        }
    }

    private func start(_ delivery: WebhookQueue.Delivery) {
        Task { [self] in
            let outcome = await sender.attempt(delivery)
            finished.withLock { $0.append(WebhookQueue.Finished(delivery, outcome)) }
            wake()
        }
    }
}
