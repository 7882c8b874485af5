import Synchronization

/// The one budget, per server, for the bytes its connections hold: unfinished requests, requests
/// being handled (head and body), responses not yet written. Whatever clients do, these stay
/// near ``limit``: 10,000 connections each trickling a 15 KiB head, sending 60 KiB of a body
/// and stopping, or asking for a large response and never reading it, would otherwise hold
/// over a gigabyte.
///
/// Three levels, so that a flood of unfinished requests cannot starve whole ones:
/// - below ``bufferingLimit`` (7/8 of the limit) a connection reads as usual;
/// - above it, a request that lies whole in the kernel's buffer is read if it fits under
///   ``limit`` (it needs no buffering, and its memory comes back once it is answered); a
///   connection that would have to buffer first makes room by shedding the connections of its
///   loop that have held memory longest (``HTTPHolders``: `503` and close for a request not
///   yet whole, close for a response not being read), and only if none is older than itself
///   is it paused: not read, its bytes waiting in the kernel, while the other loops are asked
///   to shed theirs;
/// - paused connections resume once use falls below ``resumeLevel`` (3/4 of the limit), so
///   they do not flap around one level.
///
/// Responses count too: a response its client does not read is charged while it waits, and
/// past ``limit`` the responses stalled longest are shed. A body several connections wait to
/// write (a static document) is charged once per loop, since it is one buffer.
///
/// A connection charges the capacity of its buffers, not their count: capacity is what malloc
/// gave it. Updated from every event loop with one atomic add per change.
final class HTTPBufferBudget: Sendable {
    let limit: Int
    let bufferingLimit: Int
    let resumeLevel: Int
    private let used = Atomic<Int>(0)
    private let reliefMoment = Atomic<UInt64>(0)

    init(limit: Int) {
        self.limit = limit
        bufferingLimit = limit - limit / 8
        resumeLevel = limit - limit / 4
    }

    /// Bytes charged right now, across all connections.
    var bytes: Int { used.load(ordering: .relaxed) }

    /// Below the buffering share: a connection may read and buffer an unfinished request.
    var allowsBuffering: Bool { bytes < bufferingLimit }

    /// Low enough again for paused connections to read.
    var allowsResuming: Bool { bytes < resumeLevel }

    /// Whether a whole request of `size` bytes still fits under the limit.
    func admits(_ size: Int) -> Bool { bytes + size <= limit }

    func adjust(by delta: Int) {
        used.add(delta, ordering: .relaxed)
    }

    /// The newest moment (``MonotonicClock``) a paused connection started holding: loops asked
    /// for relief shed holders older than it.
    var reliefBefore: UInt64 { reliefMoment.load(ordering: .relaxed) }

    /// A connection that started holding at `moment` (or a newcomer, now) was paused for want of room.
    func askRelief(before moment: UInt64) {
        reliefMoment.max(moment, ordering: .relaxed)
    }
}
