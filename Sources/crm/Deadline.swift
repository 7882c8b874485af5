import Synchronization

/// Waits for work that may never finish (a ping to an unreachable database, a pool whose
/// connections are stuck), but only so long: after `limit` the caller gets `otherwise` and the
/// work is left running.
public enum Deadline {
    public static func run<Value: Sendable>(
        within limit: Duration, otherwise: Value, _ work: @escaping @Sendable () async -> Value
    ) async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value, Never>) in
            let once = Mutex<CheckedContinuation<Value, Never>?>(continuation)
            let finish: @Sendable (Value) -> Void = { value in once.withLock { $0.take() }?.resume(returning: value) }
            Task { finish(await work()) }
            Task {
                try? await Task.sleep(for: limit)
                finish(otherwise)
            }
        }
    }
}
