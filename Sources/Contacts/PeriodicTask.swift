import Synchronization

/// A background loop for `crm serve`: once started, runs its body every `interval` (the first
/// time after one interval) until stopped. A failing run is the body's to count; the loop goes
/// on at the next interval. Used by ``RetentionPurger`` and ``RateLimitSharing``.
public final class PeriodicTask: Sendable {
    public let interval: Duration
    private let task = Mutex<Task<Void, Never>?>(nil)

    public init(every interval: Duration) {
        self.interval = interval
    }

    /// Starts running `body` every ``interval``; a call while the loop runs does nothing.
    public func start(_ body: @escaping @Sendable () async -> Void) {
        task.withLock { running in
            guard running == nil else { return }
            running = Task { [interval] in
                while (try? await Task.sleep(for: interval)) != nil {
                    await body()
                }
            }
        }
    }

    /// Cancels the loop (a run under way sees `Task.isCancelled`).
    public func stop() {
        task.withLock { $0?.cancel(); $0 = nil }
    }
}
