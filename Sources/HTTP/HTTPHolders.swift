/// One loop's connections that hold memory the server could take back by closing them: a
/// request not yet whole, or a response its client is not reading. Oldest first: a request
/// counts from when it started to be buffered, a response from when its client last took
/// bytes (one that keeps reading moves to the back). When the budget runs short, the loop
/// sheds from the front (``HTTPServerLoop/shed(downTo:before:)``): whoever has held memory
/// longest without finishing goes before a newcomer is made to wait.
///
/// A first-in-first-out queue with lazy deletion: a connection that stops holding, or moves to
/// the back, simply forgets its ticket, and its old entry is skipped when it reaches the front.
/// Every operation is O(1) amortised.
struct HTTPHolders {
    /// Where a connection stands in the queue, or where a newcomer would.
    struct Ticket: Comparable {
        /// Order within the loop.
        let sequence: UInt64
        /// ``MonotonicClock`` nanoseconds: order across loops.
        let since: UInt64

        static func < (lhs: Ticket, rhs: Ticket) -> Bool { lhs.sequence < rhs.sequence }
    }

    /// Which entries a shedding may take: those queued before a ticket of this loop, or before
    /// a moment (when another loop asks for room).
    enum Bound {
        case ticket(Ticket)
        case time(UInt64)
        case everyone

        func admits(_ ticket: Ticket) -> Bool {
            switch self {
            case .ticket(let bound): ticket < bound
            case .time(let bound): ticket.since < bound
            case .everyone: true
            }
        }
    }

    private var entries: [(connection: HTTPConnection, ticket: Ticket)] = []
    private var front = 0
    private var nextSequence: UInt64 = 0

    /// The ticket a connection would get now, for a newcomer that holds nothing yet.
    func newcomer(now: UInt64) -> Ticket {
        Ticket(sequence: nextSequence, since: now)
    }

    /// Queues `connection` at the back; it keeps the ticket to show its entry is still its own.
    mutating func append(_ connection: HTTPConnection, now: UInt64) -> Ticket {
        let ticket = Ticket(sequence: nextSequence, since: now)
        nextSequence += 1
        entries.append((connection, ticket))
        return ticket
    }

    /// Takes the oldest connection still holding, if it is within `bound`.
    mutating func popOldest(within bound: Bound) -> HTTPConnection? {
        while front < entries.count {
            let (connection, ticket) = entries[front]
            guard connection.holdTicket == ticket else {
                drop()
                continue
            }
            guard bound.admits(ticket) else { return nil }
            drop()
            return connection
        }
        return nil
    }

    /// Forgets the front entry; storage is reclaimed once half of it is behind the front.
    private mutating func drop() {
        front += 1
        if front == entries.count {
            entries.removeAll(keepingCapacity: entries.capacity <= 1024)
            front = 0
        } else if front >= 512, front * 2 >= entries.count {
            entries.removeFirst(front)
            front = 0
        }
    }

    /// Drops the entries of connections that no longer hold (when many moved to the back).
    mutating func compactIfMostlyStale(live: Int) {
        guard entries.count - front > 2 * live + 64 else { return }
        entries = entries[front...].filter { $0.connection.holdTicket == $0.ticket }
        front = 0
    }

    /// Forgets every entry (at shutdown).
    mutating func removeAll() {
        entries = []
        front = 0
    }
}
