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
///
/// Only an outcome that answers every waiter is shared. A failure of a leader (the caller
/// whose `body` ran) whose task was cancelled is its own: the waiters were not cancelled, so
/// one of them runs its `body` in turn (the others wait for that one). So does a failure that
/// `sharesFailure` declines, such as a refusal that concerns the leader alone.
public final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// What a waiter is told when the call it waited for ends.
    private enum Turn: Sendable {
        /// Nobody was running a call: this caller runs its own.
        case lead
        /// The call's outcome, shared.
        case shared(Result<Value, any Error>)
        /// The call ended with an outcome that was not shared: try again.
        case again
    }

    private typealias Waiter = CheckedContinuation<Turn, Never>

    private let running = Mutex<[Key: [Waiter]]>([:])

    public init() {}

    /// The result of `body` for `key`: run by this caller, or by the caller whose call for
    /// `key` was already running (then this one's `body` never runs). Throws what that call threw.
    ///
    /// - Parameter sharesFailure: whether an error thrown by `body` answers the callers
    ///   waiting for it too (the default: every error does); one that does not makes one of
    ///   them run its own `body`. Callers of one key should pass the same rule.
    public func run(_ key: Key, sharesFailure: (any Error) -> Bool = { _ in true },
                    _ body: () async throws -> Value) async throws -> Value {
        while true {
            let turn = await withCheckedContinuation { (continuation: Waiter) in
                let leads = running.withLock { running -> Bool in
                    guard running[key] != nil else {
                        running[key] = []
                        return true
                    }
                    running[key]!.append(continuation)
                    return false
                }
                if leads { continuation.resume(returning: .lead) }
            }
            switch turn {
            case .shared(let result): return try result.get()
            case .again: continue
            case .lead: return try await lead(key, sharesFailure: sharesFailure, body)
            }
        }
    }

    /// Runs `body` for the callers waiting on `key`, and tells them its outcome (or to try again).
    private func lead(_ key: Key, sharesFailure: (any Error) -> Bool, _ body: () async throws -> Value) async throws -> Value {
        let result: Result<Value, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        var turn = Turn.shared(result)
        if case .failure(let error) = result, Task.isCancelled || !sharesFailure(error) { turn = .again }
        let waiters = running.withLock { $0.removeValue(forKey: key) ?? [] }
        for waiter in waiters { waiter.resume(returning: turn) }
        return try result.get()
    }

    /// Keys with a call running, and callers waiting for one (for tests and diagnostics).
    public var statistics: (running: Int, waiting: Int) {
        running.withLock { running in (running.count, running.values.reduce(0) { $0 + $1.count }) }
    }
}
