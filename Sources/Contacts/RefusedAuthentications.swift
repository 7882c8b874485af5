import Glibc

/// Refused authentications per client address: a token bucket per address (`rate` a second,
/// bursting to `rate`), so that guessing keys, or sending made-up ones to load the database,
/// goes no faster from one client than that, however many connections it opens. Pure: time
/// comes in as monotonic nanoseconds.
///
/// ``KeyGate`` takes a token before it looks up a key it does not know live (taken first, so
/// that concurrent requests cannot all pass on the last token) and gives it back when the key
/// is live; a key refused later by the operation's SQL (revoked, not granted the listing) takes
/// one too. So every refused authentication costs its address one token, and an address with
/// none left gets `429` for keys not known live without any database work. The price of taking
/// tokens first: a client that presents more new keys at the same instant than its rate (all
/// unknown to this process, all looked up at once) can see `429` for some until the lookups
/// return. Requests with the same key share one lookup and one token, so many connections with
/// one key never do.
///
/// Addresses are bucketed whole for IPv4 and by their /64 for IPv6: one host usually has a
/// whole /64 to pick source addresses from. At most `capacity` are tracked, the least recently
/// used leaving first, but only once its bucket has refilled (a full bucket is a new one).
///
/// Addresses that find the table full of buckets still counting are *untracked*: they share
/// one overflow bucket, but an empty overflow bucket never refuses a lookup, only a key that
/// turns out not live (``Allowance/untracked(_:)``). A shared bucket refusing lookups would let
/// anyone with more addresses than the table holds starve every other untracked client of its
/// live keys (those not cached yet); this way a live key is never refused because of other
/// addresses' refusals. What it costs: past the table's capacity, unknown keys from untracked
/// addresses are looked up without a bound. That adds little, because keeping `capacity`
/// buckets from refilling takes `capacity` addresses each refusing at `rate` already (10,000 ×
/// 20 lookups a second by default), far more than one overflow bucket would have held back.
struct RefusedAuthentications {
    /// An address as its bucket is keyed.
    enum Client: Hashable, Sendable {
        case v4(UInt32)
        /// The first 64 bits of an IPv6 address.
        case v6(UInt64)
        /// Not an address (never the case for a peer or a trusted `X-Forwarded-For` entry).
        case other(String)
    }

    let rate: Double
    private var buckets: LRUCache<Client, TokenBucket>
    private var overflow: TokenBucket

    init(rate: Int, capacity: Int, now: UInt64) {
        self.rate = Double(rate)
        buckets = LRUCache(capacity: capacity)
        overflow = TokenBucket(rate: Double(rate), burst: Double(rate), now: now)
    }

    var count: Int { buckets.count }

    /// What a lookup of a key not known live may do, for one address.
    enum Allowance: Equatable {
        /// Look the key up: a token was taken, to be given back if the key is live.
        case token
        /// The address is not tracked and the shared overflow bucket is empty: look the key up
        /// anyway, serve it if it is live, and answer `429` with this decision if not.
        case untracked(TokenBucket.Decision)
        /// The address is out of refusals: `429` with this decision, without a lookup.
        case throttled(TokenBucket.Decision)
    }

    /// Takes a token from `client`'s bucket for a refusal.
    mutating func take(_ client: Client, now: UInt64) -> TokenBucket.Decision {
        takeToken(client, now: now).decision
    }

    /// Takes a token from `client`'s bucket for a lookup.
    mutating func takeForLookup(_ client: Client, now: UInt64) -> Allowance {
        let (decision, tracked) = takeToken(client, now: now)
        if decision.allowed { return .token }
        return tracked ? .throttled(decision) : .untracked(decision)
    }

    /// Takes a token from `client`'s bucket (a new one if the table has room for it), else
    /// from the overflow bucket: then `tracked` is false.
    private mutating func takeToken(_ client: Client, now: UInt64) -> (decision: TokenBucket.Decision, tracked: Bool) {
        if let decision = buckets.update(forKey: client, { $0.take(now: now) }) { return (decision, true) }
        var bucket = TokenBucket(rate: rate, burst: rate, now: now)
        let decision = bucket.take(now: now)
        if buckets.insert(bucket, forKey: client, evictingIf: { $0.isFull(now: now) }) { return (decision, true) }
        return (overflow.take(now: now), false)
    }

    /// The `429` a caller from `client` gets before it may even wait for another caller's
    /// lookup: the decision of an address out of refusals; nil when it may go on (untracked
    /// addresses always may).
    mutating func exhausted(_ client: Client, now: UInt64) -> TokenBucket.Decision? {
        guard let decision = buckets.update(forKey: client, { $0.peek(now: now) }), !decision.allowed else { return nil }
        return decision
    }

    /// Gives back the token a lookup took: the key was live.
    mutating func giveBack(_ client: Client, now: UInt64) {
        if buckets.update(forKey: client, { $0.giveBack(now: now) }) == nil {
            overflow.giveBack(now: now)
        }
    }

    /// The bucket key of an address in text form (`192.0.2.1`, `2001:db8::1`, `::ffff:192.0.2.1`).
    static func client(_ address: String) -> Client {
        guard !address.utf8.contains(0) else { return .other(address) }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return .v4(UInt32(bigEndian: v4.s_addr)) }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return .other(address) }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            return .v4(bytes[12..<16].reduce(0) { $0 << 8 | UInt32($1) })
        }
        return .v6(bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) })
    }
}
