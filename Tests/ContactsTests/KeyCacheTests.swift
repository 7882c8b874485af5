@testable import Contacts
import XCTest

/// The key gate's two tables, with time as a value: the positive key cache and the refused
/// authentications per address.
final class KeyCacheTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    private func hash(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    func testAFreshKeyIsAnsweredFromTheCacheAndAStaleOneIsAskedAgain() {
        var cache = KeyCache(capacity: 10, lifetime: .seconds(1), burst: nil)
        XCTAssertEqual(cache.lookup(hash(1), now: 0), .absent)
        XCTAssertNil(cache.found(hash(1), limit: nil, now: 0), "no limit, no decision")
        XCTAssertEqual(cache.lookup(hash(1), now: second - 1), .fresh(limit: nil, decision: nil))
        XCTAssertEqual(cache.lookup(hash(1), now: second), .stale)
        cache.forget(hash(1))
        XCTAssertEqual(cache.lookup(hash(1), now: second), .absent, "revoked: gone")
    }

    func testARefreshKeepsTheBucketUnlessTheLimitChanged() throws {
        var cache = KeyCache(capacity: 10, lifetime: .seconds(1), burst: 2)
        XCTAssertEqual(cache.found(hash(1), limit: 5, now: 0)?.remaining, 1)
        guard case .fresh(5, let second1) = cache.lookup(hash(1), now: 0) else { return XCTFail("fresh") }
        XCTAssertEqual(second1?.remaining, 0)
        XCTAssertEqual(cache.found(hash(1), limit: 5, now: 0)?.allowed, false, "the same bucket, still empty")
        XCTAssertEqual(cache.found(hash(1), limit: 7, now: 0)?.remaining, 1, "a new limit, a new bucket")
        XCTAssertNil(cache.found(hash(1), limit: nil, now: 0), "the limit removed")
    }

    /// A full cache never drops a bucket that is still counting: the newcomer goes uncached
    /// instead, and the limited key keeps its empty bucket. Once that bucket would have refilled
    /// anyway, it may go.
    func testAtCapacityALiveLimitedBucketIsNeverReset() {
        var cache = KeyCache(capacity: 2, lifetime: .seconds(60), burst: 2)
        let limited = hash(1)
        XCTAssertEqual(cache.found(limited, limit: 1, now: 0)?.allowed, true)
        guard case .fresh(1, let emptied?) = cache.lookup(limited, now: 0) else { return XCTFail("cached") }
        XCTAssertEqual([emptied.allowed ? 1 : 0, emptied.remaining, emptied.resetSeconds], [1, 0, 2], "burst of 2 used up")
        XCTAssertNil(cache.found(hash(2), limit: nil, now: 0))
        _ = cache.lookup(hash(2), now: 0)  // the limited key is now the least recently used
        for newcomer in UInt8(3)...50 {
            XCTAssertNil(cache.found(hash(newcomer), limit: nil, now: second), "served")
            XCTAssertEqual(cache.lookup(hash(newcomer), now: second), .absent, "but not cached: the oldest bucket is still counting")
        }
        XCTAssertEqual(cache.count, 2)
        guard case .fresh(1, let decision?) = cache.lookup(limited, now: second) else { return XCTFail("still cached") }
        XCTAssertEqual(decision.allowed, true, "one token refilled in one second, not a full burst")
        guard case .fresh(1, let refused?) = cache.lookup(limited, now: second) else { return XCTFail("still cached") }
        XCTAssertEqual(refused.allowed, false)

        _ = cache.lookup(hash(2), now: second)
        XCTAssertNil(cache.found(hash(60), limit: nil, now: 2 * second), "the limited bucket is still counting")
        XCTAssertEqual(cache.lookup(hash(60), now: 2 * second), .absent)
        XCTAssertNil(cache.found(hash(61), limit: nil, now: 3 * second))
        XCTAssertEqual(cache.lookup(hash(61), now: 3 * second), .fresh(limit: nil, decision: nil), "refilled by now: it made room")
        XCTAssertEqual(cache.lookup(limited, now: 3 * second), .absent)
    }

    func testAddressesAreBucketedWholeForIPv4AndByTheir64ForIPv6() {
        XCTAssertEqual(RefusedAuthentications.client("192.0.2.1"), .v4(0xC000_0201))
        XCTAssertEqual(RefusedAuthentications.client("::ffff:192.0.2.1"), .v4(0xC000_0201), "an IPv4-mapped address is the IPv4 one")
        XCTAssertEqual(RefusedAuthentications.client("2001:db8::1"), .v6(0x2001_0db8_0000_0000))
        XCTAssertEqual(RefusedAuthentications.client("2001:db8::1"), RefusedAuthentications.client("2001:db8:0:0:ffff:1:2:3"))
        XCTAssertNotEqual(RefusedAuthentications.client("2001:db8::1"), RefusedAuthentications.client("2001:db8:0:1::1"))
        XCTAssertEqual(RefusedAuthentications.client("not-an-address"), .other("not-an-address"))
        XCTAssertEqual(RefusedAuthentications.client("1.2.3.4\0junk"), .other("1.2.3.4\0junk"))
    }

    func testEachAddressHasItsBucketAndAFullTableSharesAnOverflowBucket() {
        var table = RefusedAuthentications(rate: 2, capacity: 2, now: 0)
        let a = RefusedAuthentications.client("192.0.2.1"), b = RefusedAuthentications.client("192.0.2.2")
        XCTAssertEqual([table.take(a, now: 0), table.take(a, now: 0), table.take(a, now: 0)].map(\.allowed), [true, true, false])
        table.giveBack(a, now: 0)
        XCTAssertTrue(table.take(a, now: 0).allowed, "a token given back is there again")
        XCTAssertTrue(table.take(b, now: 0).allowed, "another address, its own bucket")
        // Full, and both buckets counting: newcomers share the overflow bucket (2 tokens).
        let newcomers = (3...6).map { table.take(RefusedAuthentications.client("192.0.2.\($0)"), now: 0).allowed }
        XCTAssertEqual(newcomers, [true, true, false, false])
        XCTAssertEqual(table.count, 2)
        XCTAssertFalse(table.take(a, now: 0).allowed, "the tracked address kept its empty bucket")
        XCTAssertTrue(table.take(RefusedAuthentications.client("192.0.2.9"), now: 2 * second).allowed,
                      "once a bucket has refilled, its address makes room")
        XCTAssertEqual(table.count, 2)
    }

    /// Item 4 of the review: a full table's newcomers share the overflow bucket, but an empty one
    /// never stops a lookup; it only decides the `429` of a key that turns out not live.
    func testAnUntrackedAddressIsLookedUpEvenWhenTheOverflowIsEmpty() {
        var table = RefusedAuthentications(rate: 1, capacity: 2, now: 0)
        let a = RefusedAuthentications.client("192.0.2.1"), b = RefusedAuthentications.client("192.0.2.2")
        XCTAssertEqual(table.takeForLookup(a, now: 0), .token)
        XCTAssertEqual(table.takeForLookup(b, now: 0), .token)
        guard case .throttled(let decision) = table.takeForLookup(a, now: 0) else { return XCTFail("a is out of refusals") }
        XCTAssertEqual(decision.retryAfterSeconds, 1)
        XCTAssertEqual(table.takeForLookup(RefusedAuthentications.client("192.0.2.3"), now: 0), .token, "the overflow's one token")
        for host in 4...40 {
            guard case .untracked(let decision) = table.takeForLookup(RefusedAuthentications.client("192.0.2.\(host)"), now: 0) else {
                return XCTFail("192.0.2.\(host): looked up although the overflow is empty")
            }
            XCTAssertFalse(decision.allowed)
            XCTAssertEqual(decision.retryAfterSeconds, 1)
        }
        XCTAssertEqual(table.count, 2)
    }

    /// Whether a caller may wait for another's lookup is its own address's business: only a
    /// tracked address out of refusals is stopped, and checking takes nothing.
    func testOnlyATrackedAddressOutOfRefusalsIsStoppedBeforeALookup() {
        var table = RefusedAuthentications(rate: 2, capacity: 1, now: 0)
        let a = RefusedAuthentications.client("192.0.2.1"), b = RefusedAuthentications.client("192.0.2.2")
        XCTAssertNil(table.exhausted(a, now: 0), "never seen")
        XCTAssertEqual(table.take(a, now: 0).remaining, 1)
        XCTAssertNil(table.exhausted(a, now: 0))
        XCTAssertNil(table.exhausted(a, now: 0), "checking took nothing")
        XCTAssertEqual(table.take(a, now: 0).remaining, 0)
        XCTAssertEqual(table.exhausted(a, now: 0)?.retryAfterSeconds, 1)
        XCTAssertNil(table.exhausted(a, now: second / 2), "a token refilled")
        // a's bucket is still counting, so b is not tracked: it empties the overflow bucket.
        XCTAssertEqual([table.take(b, now: 0), table.take(b, now: 0), table.take(b, now: 0)].map(\.allowed), [true, true, false])
        XCTAssertEqual(table.count, 1)
        XCTAssertNil(table.exhausted(b, now: 0), "untracked: never stopped before its lookup")
    }
}
