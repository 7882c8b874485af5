import FoundationEssentials
import Operations
import Postgres
import Reactor
import Synchronization

/// Per-key rate limiting: each key with a `rate_limit` (requests per second, from its row) gets
/// a token bucket holding `burst` requests (default: one second's worth).
///
/// The limits are cached for at most one second per key, so a changed limit, a revocation or a
/// new key is seen within a second by every running instance without any messaging between
/// them. Buckets are per process: N instances behind a balancer allow up to N times the rate.
public final class KeyRateLimits: Sendable {
    private struct CachedLimit {
        let limit: Int?
        let fetched: UInt64
    }

    private struct State {
        var limits: [[UInt8]: CachedLimit] = [:]
        var buckets: [[UInt8]: TokenBucket] = [:]
    }

    public let pool: ConnectionPool
    /// Bucket size; nil means each key's own rate (one second's worth of requests).
    public let burst: Int?
    private let cacheNanoseconds: UInt64 = 1_000_000_000
    /// Past this many cached keys, expired entries are swept (clients choose the keys they send).
    private let cacheCapacity = 10_000
    private let state = Mutex(State())

    static let limitQuery = PreparedStatement(
        name: "crm_key_rate_limit",
        sql: "SELECT rate_limit FROM api_keys WHERE key_hash = $1::bytea AND revoked_at IS NULL")

    public init(pool: ConnectionPool, burst: Int? = nil) {
        self.pool = pool
        self.burst = burst
    }

    /// The limit and decision for one request of the key with `keyHash`; nil when the key has
    /// no limit (or does not exist: the API refuses it anyway).
    public func check(keyHash: [UInt8]) async throws -> (limit: Int, decision: TokenBucket.Decision)? {
        let now = MonotonicClock.now()
        let cached = state.withLock { $0.limits[keyHash] }
        let limit: Int?
        if let cached, now &- cached.fetched < cacheNanoseconds {
            limit = cached.limit
        } else {
            let result = try await pool.withConnection { try await $0.execute(Self.limitQuery, [PostgresBytes(keyHash)]) }
            limit = try result.first?.decode(Int?.self, column: 0)
            let capacity = cacheCapacity, lifetime = cacheNanoseconds
            state.withLock { state in
                if state.limits.count >= capacity {
                    state.limits = state.limits.filter { now &- $0.value.fetched < lifetime }
                    if state.limits.count >= capacity { state.limits.removeAll() }
                    state.buckets = state.buckets.filter { state.limits[$0.key] != nil }
                }
                state.limits[keyHash] = CachedLimit(limit: limit, fetched: now)
            }
        }
        guard let limit else { return nil }
        let decision = state.withLock { state -> TokenBucket.Decision in
            var bucket = state.buckets[keyHash]
            if bucket == nil || bucket!.rate != Double(limit) {
                bucket = TokenBucket(rate: Double(limit), burst: Double(burst ?? limit), now: now)
            }
            let decision = bucket!.take(now: now)
            state.buckets[keyHash] = bucket
            return decision
        }
        return (limit, decision)
    }
}
