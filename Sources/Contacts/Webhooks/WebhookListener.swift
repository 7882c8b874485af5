import Postgres
import Reactor
import Synchronization

/// Keeps a connection of its own (not the pool's) listening on ``ChangeNotifier/channel`` and
/// wakes the dispatcher at each notification. When the connection breaks it reconnects after a
/// second and wakes the dispatcher once, for what was notified meanwhile (the dispatcher's poll
/// covers the gap too, and covers setups where `LISTEN` cannot work, such as PgBouncer's
/// transaction pooling).
public final class WebhookListener: Sendable {
    public let database: PostgresConfiguration
    public let loop: EventLoop
    private let wake: @Sendable () -> Void
    private let task = Mutex<Task<Void, Never>?>(nil)
    private let connection = Mutex<PostgresConnection?>(nil)

    public init(database: PostgresConfiguration, loop: EventLoop, wake: @escaping @Sendable () -> Void) {
        self.database = database
        self.loop = loop
        self.wake = wake
    }

    public func start() {
        task.withLock { running in
            guard running == nil else { return }
            running = Task { [self] in await run() }
        }
    }

    public func stop() async {
        guard let running = task.withLock({ $0 }) else { return }
        running.cancel()
        if let open = connection.withLock({ $0 }) { await open.close() }
        await running.value
    }

    private func run() async {
        while !Task.isCancelled {
            var opened: PostgresConnection?
            do {
                let listening = try await PostgresConnection.connect(database, on: loop)
                opened = listening
                connection.withLock { $0 = listening }
                // stop() cancels, then closes what it finds here: either it found this
                // connection, or this task sees the cancellation.
                if Task.isCancelled { break }
                listening.onNotification { [wake] _ in wake() }
                try await listening.simpleQuery("LISTEN \(ChangeNotifier.channel)")
                wake()
                await withCheckedContinuation { (closed: CheckedContinuation<Void, Never>) in
                    listening.onClose { _ in closed.resume() }
                }
            } catch {
                // The database is away, or refused LISTEN (a standby): try again in a second.
            }
            connection.withLock { $0 = nil }
            if let opened, !opened.isClosed { await opened.close() }
            if Task.isCancelled { return }
            try? await Task.sleep(for: .seconds(1))
        }
        if let open = connection.withLock({ $0 }) { await open.close() }
    }
}
