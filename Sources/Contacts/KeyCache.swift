import Reactor

/// The keys recently found live, with their rate limits and token buckets: ``KeyGate``'s
/// positive cache. Pure: time comes in as monotonic nanoseconds, so tests need no clock.
///
/// - Only keys the database found live get in. An unknown key never does: a flood of made-up
///   keys cannot touch the cache, and a key created a moment ago works on its next request.
/// - An entry is fresh for `lifetime` (1 s in the service), so a changed limit or a revocation
///   reaches every instance within that without any messaging between them.
/// - At most `capacity` entries (``LRUCache``): the least recently used one makes room, but
///   only once its bucket has refilled (or when it has no limit). Evicting a bucket that is
///   still counting would hand its key a full burst early; when the least recently used entry
///   is such a bucket, the newcomer is served without being cached, its limit applied from a
///   new bucket. That takes `capacity` distinct live keys, each used within its refill time:
///   made-up keys never get in.
/// - A limited key used lately also has a ``SharedUsage``: what this process admitted that the
///   other instances have not yet been told, and what they had admitted when it last asked
///   (``RateLimitSharing`` reports and reads it every 200 ms).
struct KeyCache {
    struct Entry {
        var limit: Int?
        var fetched: UInt64
        var bucket: TokenBucket?
    }

    /// What the cache knows of a key.
    enum Lookup: Equatable {
        /// Found live less than `lifetime` ago: its limit, and this request's decision when it has one.
        case fresh(limit: Int?, decision: TokenBucket.Decision?)
        /// Found live longer ago than `lifetime`: to be looked up again (its bucket is kept).
        case stale
        case absent
    }

    /// A limited key's traffic as the other instances need to know it.
    struct SharedUsage {
        /// Requests admitted here since the last report.
        var unreported: Int64 = 0
        /// What the other instances had admitted in all when last read; nil: never read.
        var othersSeen: Int64?
        var lastUsed: UInt64

        /// A request at `now`, admitted or refused.
        mutating func used(now: UInt64, admitted: Bool) {
            lastUsed = now
            if admitted { unreported += 1 }
        }
    }

    let lifetime: UInt64
    /// Bucket size of every limited key; nil means one second of the key's own rate.
    let burst: Int?
    var entries: LRUCache<[UInt8], Entry>
    /// Limited keys used within the last ``sharedUsageWindow``.
    var usage: [[UInt8]: SharedUsage] = [:]
    /// How long a limited key stays in ``usage`` after its last request.
    static let sharedUsageWindow: UInt64 = 10_000_000_000

    init(capacity: Int, lifetime: Duration, burst: Int?) {
        entries = LRUCache(capacity: capacity)
        self.lifetime = MonotonicClock.nanoseconds(lifetime)
        self.burst = burst
    }

    var count: Int { entries.count }

    /// What is known of `keyHash` at `now`; a fresh limited key takes a token from its bucket.
    mutating func lookup(_ keyHash: [UInt8], now: UInt64) -> Lookup {
        let lifetime = self.lifetime
        let found = entries.update(forKey: keyHash) { entry -> Lookup in
            guard now <= entry.fetched || now - entry.fetched < lifetime else { return .stale }
            return .fresh(limit: entry.limit, decision: entry.bucket?.take(now: now))
        } ?? .absent
        if case .fresh(_, let decision?) = found { used(keyHash, decision, now: now) }
        return found
    }

    /// The database found `keyHash` live with `limit` at `now`: cached (or refreshed, keeping
    /// its bucket unless the limit changed); returns this request's decision when it has a limit.
    mutating func found(_ keyHash: [UInt8], limit: Int?, now: UInt64) -> TokenBucket.Decision? {
        let burst = self.burst
        let newBucket = { (rate: Int) in TokenBucket(rate: Double(rate), burst: Double(burst ?? rate), now: now) }
        let refreshed = entries.update(forKey: keyHash) { entry -> TokenBucket.Decision? in
            entry.fetched = max(entry.fetched, now)
            if entry.limit != limit {
                entry.limit = limit
                entry.bucket = limit.map(newBucket)
            }
            return entry.bucket?.take(now: now)
        }
        if let refreshed {
            used(keyHash, refreshed, now: now)
            return refreshed
        }
        var entry = Entry(limit: limit, fetched: now, bucket: limit.map(newBucket))
        let decision = entry.bucket?.take(now: now)
        entries.insert(entry, forKey: keyHash) { $0.bucket?.isFull(now: now) ?? true }
        used(keyHash, decision, now: now)
        return decision
    }

    /// The database no longer finds `keyHash` live: its entry and bucket go.
    mutating func forget(_ keyHash: [UInt8]) {
        entries.removeValue(forKey: keyHash)
        usage.removeValue(forKey: keyHash)
    }

    /// Notes a limited key's request for the other instances (only an admitted one counts).
    private mutating func used(_ keyHash: [UInt8], _ decision: TokenBucket.Decision?, now: UInt64) {
        guard let decision else { return }
        usage[keyHash, default: SharedUsage(lastUsed: now)].used(now: now, admitted: decision.allowed)
    }
}

