/// Why the pool could not lend a connection. Connection failures themselves surface as
/// ``PostgresError`` (kind `.connectionFailed`), so callers can tell "busy" from "down".
public struct ConnectionPoolError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Reason: Hashable, Sendable {
        case acquireTimeout
        case poolShutdown
        case cancelled
    }

    private let reason: Reason

    /// No connection became free within the acquire timeout (the HTTP layer answers 503).
    public static let acquireTimeout = ConnectionPoolError(reason: .acquireTimeout)
    /// The pool is shutting down or shut down.
    public static let poolShutdown = ConnectionPoolError(reason: .poolShutdown)
    /// The waiting task was cancelled.
    public static let cancelled = ConnectionPoolError(reason: .cancelled)

    public var description: String {
        switch reason {
        case .acquireTimeout: "no database connection became free within the acquire timeout"
        case .poolShutdown: "the connection pool is shut down"
        case .cancelled: "the wait for a database connection was cancelled"
        }
    }
}
