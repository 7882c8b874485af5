/// A token bucket: `rate` tokens a second, holding at most `burst`. Pure: the caller passes
/// the time (monotonic nanoseconds), so tests need no clock.
public struct TokenBucket: Sendable {
    /// The answer for one request, with what the `RateLimit-*` and `Retry-After` headers say.
    public struct Decision: Sendable, Equatable {
        public let allowed: Bool
        /// Whole tokens left after this request.
        public let remaining: Int
        /// Seconds until a token is available again (0 when one is).
        public let retryAfterSeconds: Int
        /// Seconds until the bucket is full again.
        public let resetSeconds: Int
    }

    /// The deepest debt ``debit(_:now:)`` leaves, in bursts.
    public static let maxDebtInBursts = 10.0

    public let rate: Double
    public let burst: Double
    private var tokens: Double
    private var updated: UInt64

    public init(rate: Double, burst: Double, now: UInt64) {
        self.rate = rate
        self.burst = max(1, burst)
        tokens = self.burst
        updated = now
    }

    public mutating func take(now: UInt64) -> Decision {
        refill(now: now)
        let allowed = tokens >= 1
        if allowed { tokens -= 1 }
        let missing = max(0, 1 - tokens)
        return Decision(
            allowed: allowed,
            remaining: max(0, Int(tokens.rounded(.down))),
            retryAfterSeconds: allowed ? 0 : max(1, Int((missing / rate).rounded(.up))),
            resetSeconds: Int(((burst - tokens) / rate).rounded(.up)))
    }

    /// What ``take(now:)`` would answer at `now`, taking nothing.
    public func peek(now: UInt64) -> Decision {
        var copy = self
        return copy.take(now: now)
    }

    /// Puts one token back (up to `burst`): for a request that took one and then turned out
    /// not to count.
    public mutating func giveBack(now: UInt64) {
        refill(now: now)
        tokens = min(burst, tokens + 1)
    }

    /// Takes `count` tokens that were spent elsewhere (requests of the same key admitted by other
    /// instances, ``RateLimitSharing``). The bucket may go into debt, so that what several
    /// instances admitted before they heard of each other (each its own burst, at first) is
    /// paid back by refusing until the refill covers it; the debt is capped at
    /// ``maxDebtInBursts`` bursts, so a wrong count can never lock a key out for long.
    public mutating func debit(_ count: Double, now: UInt64) {
        refill(now: now)
        tokens = max(-Self.maxDebtInBursts * burst, tokens - count)
    }

    /// Whether the bucket has refilled completely by `now`. A full bucket is the same as a new
    /// one, so a cache may forget it without letting anyone past the rate.
    public func isFull(now: UInt64) -> Bool {
        tokens + Double(now > updated ? now - updated : 0) / 1e9 * rate >= burst
    }

    private mutating func refill(now: UInt64) {
        guard now > updated else { return }
        tokens = min(burst, tokens + Double(now - updated) / 1e9 * rate)
        updated = now
    }
}
