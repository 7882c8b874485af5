import Foundation

/// Waiting for a condition a test cannot be told about (a backend blocked on a lock, a gauge
/// reaching N, a server that stopped accepting) instead of sleeping and hoping: the condition
/// is checked every few milliseconds, for a bounded time, and a timeout fails with what was
/// awaited and what was last seen.
public struct WaitTimeout: Error, CustomStringConvertible {
    public let description: String
}

/// Checks `observe()` until `condition` holds for what it returned, for at most `timeout`;
/// returns that value, or throws ``WaitTimeout`` naming `what` and the last value seen.
@discardableResult
public func waitUntil<Value>(_ what: @autoclosure () -> String, timeout: Duration = .seconds(5),
                             observe: () throws -> Value, _ condition: (Value) -> Bool) throws -> Value {
    let clock = ContinuousClock(), deadline = clock.now + timeout
    while true {
        let value = try observe()
        if condition(value) { return value }
        guard clock.now < deadline else {
            throw WaitTimeout(description: "timed out after \(timeout) waiting until \(what()); last seen: \(value)")
        }
        Thread.sleep(forTimeInterval: pollInterval)
    }
}

/// ``waitUntil(_:timeout:observe:_:)`` for a plain condition.
public func waitUntil(_ what: @autoclosure () -> String, timeout: Duration = .seconds(5), _ condition: () throws -> Bool) throws {
    try waitUntil(what(), timeout: timeout, observe: condition) { $0 }
}

/// The same from async code (the condition may query the database).
@discardableResult
public func waitUntil<Value>(_ what: @autoclosure () -> String, timeout: Duration = .seconds(5),
                             observe: () async throws -> Value, _ condition: (Value) -> Bool) async throws -> Value {
    let clock = ContinuousClock(), deadline = clock.now + timeout
    while true {
        let value = try await observe()
        if condition(value) { return value }
        guard clock.now < deadline else {
            throw WaitTimeout(description: "timed out after \(timeout) waiting until \(what()); last seen: \(value)")
        }
        try await Task.sleep(for: .seconds(pollInterval))
    }
}

/// ``waitUntil(_:timeout:observe:_:)`` for a plain condition, from async code.
public func waitUntil(_ what: @autoclosure () -> String, timeout: Duration = .seconds(5),
                      _ condition: () async throws -> Bool) async throws {
    try await waitUntil(what(), timeout: timeout, observe: condition) { $0 }
}

/// Between two checks: short against the waits it replaces, long enough not to spin.
private let pollInterval = 0.005
