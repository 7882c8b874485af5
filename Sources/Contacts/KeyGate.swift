import Postgres
import Reactor
import Synchronization

/// The gate in front of `/crm/{listing_id}`'s operations: which presented keys may make the
/// service work, and how often. Every request with a well-formed key passes it once the method
/// and listing id have been checked:
///
/// 1. A key found live less than a second ago (``KeyCache``) passes at once, with its rate
///    limit's decision when it has one. No database work.
/// 2. Any other key is looked up: `crm_key_lookup`, one pipelined read (it shares the loop's
///    pipelined connection and Sync with other requests' quick reads), and requests with the
///    same key arriving meanwhile wait for that lookup instead of making their own
///    (``SingleFlight``). No live key: `403` right there, and the operation never runs. A live
///    key is cached with its limit, and the request goes on.
/// 3. Before a key the cache has never seen is looked up, its client address must have a token
///    (``RefusedAuthentications``, `authFailureRate` a second; 0 turns this off), else `429`
///    with no database work; a live key gives its token back, and a key the operation refuses
///    takes one (``refused(client:)``). Each caller's own address decides, also for a caller
///    that would wait for another's lookup. An address the full table cannot track is looked
///    up anyway when the shared overflow bucket is empty, and refused only if its key is not
///    live: other addresses' refusals never cost a live key its answer.
///
/// So a made-up key costs at most one pipelined round trip, and no client gets more of those
/// than its address's rate, however many connections it opens.
///
/// The gate only keeps unknown keys off the database: authorization never rests on it. The
/// operation's SQL still checks the key and its grant in the same statement that does the work,
/// so a key revoked within its cached second is refused by the operation itself.
///
/// Buckets are per process, kept in step across instances by ``RateLimitSharing``: N
/// instances behind a balancer allow a key's rate, not N times it.
public final class KeyGate: Sendable {
    /// The gate's answer for one request.
    public enum Verdict: Sendable, Equatable {
        /// A live key, with its rate limit's decision when it has a limit.
        case admitted(RateLimitDecision?)
        /// No live key with that hash: `403`.
        case unknown
        /// The client's address has no refused authentication left: `429` with this decision's
        /// `Retry-After`.
        case throttled(TokenBucket.Decision)
    }

    /// A limited key's limit (requests a second) and this request's decision.
    public struct RateLimitDecision: Sendable, Equatable {
        public let limit: Int
        public let decision: TokenBucket.Decision
    }

    /// Counts for metrics and tests.
    public struct Statistics: Sendable, Equatable {
        /// Keys looked up in the database since the process started.
        public var lookups: Int
        /// Keys in the positive cache.
        public var cachedKeys: Int
        /// Client addresses with a bucket of refused authentications.
        public var trackedAddresses: Int
        /// Requests waiting for another request's lookup of the same key.
        public var waitingForLookups: Int
    }

    public let pool: ConnectionPool
    /// Bucket size for rate-limited keys; nil means each key's own rate (one second's worth).
    public let burst: Int?
    /// Refused authentications allowed per client address per second (and in a burst); 0: no limit.
    public let authFailureRate: Int
    let keys: Mutex<KeyCache>
    private let addresses: Mutex<RefusedAuthentications?>
    private let lookups = Atomic<Int>(0)
    /// Errors of the key lookups, by class, once per lookup (``ServiceMetrics`` adds them to
    /// `crm_db_errors_total`).
    public let databaseErrors = DatabaseErrorCounter()
    private let inFlight = SingleFlight<[UInt8], Int??>()

    static let query = PreparedStatement(
        name: "crm_key_lookup",
        sql: "SELECT rate_limit FROM api_keys WHERE key_hash = $1::bytea AND revoked_at IS NULL",
        pipelined: true)

    /// - Parameters:
    ///   - capacity: keys kept in the positive cache.
    ///   - addressCapacity: client addresses tracked for refused authentications.
    ///   - cacheLifetime: how long a key found live is believed without asking again.
    public init(pool: ConnectionPool, burst: Int? = nil, authFailureRate: Int = 20, capacity: Int = 10_000,
                addressCapacity: Int = 10_000, cacheLifetime: Duration = .seconds(1)) {
        self.pool = pool
        self.burst = burst
        self.authFailureRate = authFailureRate
        keys = Mutex(KeyCache(capacity: capacity, lifetime: cacheLifetime, burst: burst))
        addresses = Mutex(authFailureRate > 0
            ? RefusedAuthentications(rate: authFailureRate, capacity: addressCapacity, now: MonotonicClock.now()) : nil)
    }

    public var statistics: Statistics {
        Statistics(lookups: lookups.load(ordering: .relaxed), cachedKeys: keys.withLock { $0.count },
                   trackedAddresses: addresses.withLock { $0?.count ?? 0 }, waitingForLookups: inFlight.statistics.waiting)
    }

    /// Decides one request of the key with `keyHash` from `client` (the address
    /// ``ContactsAPI`` attributes requests to). Throws what the lookup threw.
    ///
    /// Callers that share a lookup share only what it found: each one's address is its own
    /// (one out of refused authentications gets its `429` before it joins anyone's lookup,
    /// and a leader's `429` is not its waiters'), and so is its cancellation (a leader whose
    /// request ran out of time leaves the lookup to one of its waiters, ``SingleFlight``).
    public func admit(keyHash: [UInt8], client: String) async throws -> Verdict {
        let now = MonotonicClock.now()
        let cached = keys.withLock { $0.lookup(keyHash, now: now) }
        if case .fresh(let limit, let decision) = cached {
            return .admitted(Self.rateLimit(limit, decision))
        }
        let known = cached == .stale
        let address = RefusedAuthentications.client(client)
        if !known, let decision = addresses.withLock({ $0?.exhausted(address, now: now) }) {
            return .throttled(decision)
        }
        // Requests with this key that arrive while it is being looked up wait for that lookup:
        // a client opening many connections with a new key costs one lookup and one token.
        // A live key is cached before the lookup ends, so a request arriving just after it finds
        // the key instead of starting a second lookup.
        var untracked: TokenBucket.Decision?
        var leaderDecision: TokenBucket.Decision??
        let limit: Int??
        do {
            limit = try await inFlight.run(keyHash, sharesFailure: { !($0 is Throttled) }) {
                let (found, allowance) = try await lookUp(keyHash, address: address, known: known)
                untracked = allowance
                if let limit = found {
                    leaderDecision = .some(keys.withLock { $0.found(keyHash, limit: limit, now: MonotonicClock.now()) })
                }
                return found
            }
        } catch let throttled as Throttled {
            return .throttled(throttled.decision)
        }
        guard let limit else { return untracked.map(Verdict.throttled) ?? .unknown }
        let decision = leaderDecision ?? keys.withLock { $0.found(keyHash, limit: limit, now: MonotonicClock.now()) }
        return .admitted(Self.rateLimit(limit, decision))
    }

    /// Thrown by ``lookUp(_:address:known:)`` when the caller's address has no refused
    /// authentication left: that caller's own answer, never shared with others waiting.
    private struct Throttled: Error {
        let decision: TokenBucket.Decision
    }

    /// Asks the database whether `keyHash` is live: nil if not, else its limit (nil: none);
    /// with it, the decision to answer a key that is not live with when `address` could only
    /// look it up untracked (``RefusedAuthentications/Allowance/untracked(_:)``).
    /// A key the cache has never seen needs a token from `address` first, given back when
    /// the key is live; a key `known` live a moment ago needs none, and takes one if it turns
    /// out revoked. A database error is counted here, once per lookup, however many callers
    /// were waiting for it.
    private func lookUp(_ keyHash: [UInt8], address: RefusedAuthentications.Client,
                        known: Bool) async throws -> (limit: Int??, untracked: TokenBucket.Decision?) {
        var tookToken = false
        var untracked: TokenBucket.Decision?
        if !known {
            let now = MonotonicClock.now()
            switch addresses.withLock({ $0?.takeForLookup(address, now: now) }) {
            case .token?: tookToken = true
            case .untracked(let decision)?: untracked = decision
            case .throttled(let decision)?: throw Throttled(decision: decision)
            case nil: break
            }
        }
        lookups.add(1, ordering: .relaxed)
        let rows: PostgresResult
        do {
            rows = try await pool.execute(Self.query, [PostgresBytes(keyHash)])
        } catch {
            databaseErrors.record(error)
            if tookToken { giveBack(address) }
            throw error
        }
        guard rows.rowCount > 0 else {
            keys.withLock { $0.forget(keyHash) }
            if known { charge(address) }
            return (.none, untracked)
        }
        if tookToken { giveBack(address) }
        do {
            return (.some(try rows[0].decode(Int?.self, column: 0)), nil)
        } catch {
            databaseErrors.record(error)
            throw error
        }
    }

    /// The operation refused a key the gate let through (revoked within its cached second, or
    /// not granted the listing): a refused authentication, which takes a token from `client`.
    public func refused(client: String) {
        charge(RefusedAuthentications.client(client))
    }

    private func charge(_ address: RefusedAuthentications.Client) {
        let now = MonotonicClock.now()
        _ = addresses.withLock { $0?.take(address, now: now) }
    }

    private func giveBack(_ address: RefusedAuthentications.Client) {
        let now = MonotonicClock.now()
        addresses.withLock { $0?.giveBack(address, now: now) }
    }

    private static func rateLimit(_ limit: Int?, _ decision: TokenBucket.Decision?) -> RateLimitDecision? {
        guard let limit, let decision else { return nil }
        return RateLimitDecision(limit: limit, decision: decision)
    }
}
