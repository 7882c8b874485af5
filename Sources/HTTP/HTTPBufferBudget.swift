import Synchronization

/// The one budget, per server, for the bytes its connections hold: unfinished requests, requests
/// being handled (head and body), responses not yet written. Whatever clients do, these stay
/// near ``limit``: 10,000 connections each trickling a 15 KiB head, or sending 60 KiB of a body
/// and stopping, would otherwise hold over a gigabyte.
///
/// Three levels, so that a flood of unfinished requests cannot starve whole ones:
/// - below ``bufferingLimit`` (7/8 of the limit) a connection reads as usual;
/// - above it, a connection reads only a request that is whole in the kernel's buffer and fits
///   under ``limit`` (it needs no buffering and its memory comes back when it is answered);
///   anything else pauses its reading, and its bytes wait in the kernel;
/// - paused connections resume once use falls below ``resumeLevel`` (3/4 of the limit), so
///   they do not flap around one level.
///
/// A connection charges the capacity of its buffers, not their count: capacity is what malloc
/// gave it. Updated from every event loop with one atomic add per change.
final class HTTPBufferBudget: Sendable {
    let limit: Int
    let bufferingLimit: Int
    let resumeLevel: Int
    private let used = Atomic<Int>(0)

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
}
