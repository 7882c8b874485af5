import Synchronization

/// Database errors by class (``RequestFailure/databaseErrorClass(of:)``), counted once where
/// they happen: in an operation, in the key lookup, in a readiness ping. ``ServiceMetrics``
/// exports the counts as `crm_db_errors_total{class}`.
public final class DatabaseErrorCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    /// Counts `error` if it is a database error; anything else is ignored.
    public func record(_ error: any Error) {
        guard let label = RequestFailure.databaseErrorClass(of: error) else { return }
        counts.withLock { $0[label, default: 0] += 1 }
    }

    /// The counts so far, by class.
    public var snapshot: [String: Int] {
        counts.withLock { $0 }
    }
}
