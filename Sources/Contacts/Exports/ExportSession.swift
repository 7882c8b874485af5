import Postgres
import Synchronization

/// The connection an export holds from its handler (which opens the snapshot and answers the
/// head, cursor included) to its body's producer (which streams the `COPY` from that snapshot).
/// The producer releases it when done; if the producer never runs (a `HEAD`, or a client gone
/// before the head was written), the last reference releases it, and the pool closes a
/// connection left in a transaction rather than lend it again.
final class ExportSession: Sendable {
    let connection: PostgresConnection
    private let pool: ConnectionPool
    private let released = Atomic<Bool>(false)

    init(connection: PostgresConnection, pool: ConnectionPool) {
        self.connection = connection
        self.pool = pool
    }

    func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pool.release(connection)
    }

    deinit { release() }
}
