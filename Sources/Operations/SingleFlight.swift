import Synchronization

/// Calls for the same key made while one is running wait for its result instead of running
/// again (Go's `singleflight`): a thousand requests that need the same answer at the same
/// moment cost one lookup.
///
/// ```swift
/// let lookups = SingleFlight<[UInt8], Int?>()
/// let limit = try await lookups.run(keyHash) { try await fetchLimit(keyHash) }
/// ```
///
/// Only callers that arrive while the call runs share it; one that arrives after it has
/// returned runs `body` again (caching results is the caller's business).
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private typealias Waiter = CheckedContinuation<Result<Value, any Error>?, Never>

    private let running = Mutex<[Key: [Waiter]]>([:])

    public init() {}

    /// The result of `body` for `key`: run by this caller, or by the caller whose call for
    /// `key` was already running (then this one's `body` never runs). Throws what that call threw.
    public func run(_ key: Key, _ body: () async throws -> Value) async throws -> Value {
        let shared: Result<Value, any Error>? = await withCheckedContinuation { (continuation: Waiter) in
            let leads = running.withLock { running -> Bool in
                guard running[key] != nil else {
                    running[key] = []
                    return true
                }
                running[key]!.append(continuation)
                return false
            }
            if leads { continuation.resume(returning: nil) }
        }
        if let shared { return try shared.get() }
        let result: Result<Value, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        let waiters = running.withLock { $0.removeValue(forKey: key) ?? [] }
        for waiter in waiters { waiter.resume(returning: result) }
        return try result.get()
    }

    /// Keys with a call running, and callers waiting for one (for tests and diagnostics).
    public var statistics: (running: Int, waiting: Int) {
        running.withLock { running in (running.count, running.values.reduce(0) { $0 + $1.count }) }
    }
}
