@testable import Contacts
import XCTest

/// The counts instances exchange to hold a key's rate limit between them (``RateLimitSharing``),
/// with time as a value and the database's part played by hand.
final class KeyCacheSharingTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000
    private let key = [UInt8](repeating: 7, count: 32)

    private func admitted(_ cache: inout KeyCache, now: UInt64) -> Bool {
        guard case .fresh(_, let decision?) = cache.lookup(key, now: now) else { return false }
        return decision.allowed
    }

    func testAReportCarriesWhatWasAdmittedOnceAndIsEmptiedByIt() {
        var cache = KeyCache(capacity: 10, lifetime: .seconds(60), burst: nil)
        XCTAssertEqual(cache.found(key, limit: 10, now: 0)?.allowed, true)
        for _ in 0..<4 { XCTAssertTrue(admitted(&cache, now: 0)) }
        XCTAssertEqual(cache.takeUsageReport(now: 0), [KeyCache.UsageReport(keyHash: key, admitted: 5)])
        XCTAssertEqual(cache.takeUsageReport(now: 1), [KeyCache.UsageReport(keyHash: key, admitted: 0)],
                       "still reported, to learn what the others did")
        cache.restore([KeyCache.UsageReport(keyHash: key, admitted: 3)], now: 2)
        XCTAssertEqual(cache.takeUsageReport(now: 2), [KeyCache.UsageReport(keyHash: key, admitted: 3)], "a failed report's counts come back")
        XCTAssertEqual(cache.takeUsageReport(now: 11 * second), [], "idle for over 10 s: no longer reported")
    }

    func testOthersAdmittedRequestsAreTakenFromTheBucket() {
        var cache = KeyCache(capacity: 10, lifetime: .seconds(60), burst: nil)
        XCTAssertEqual(cache.found(key, limit: 10, now: 0)?.remaining, 9)
        _ = cache.takeUsageReport(now: 0)
        // First reading: only the others' latest reports count (their burst, just spent).
        cache.othersAdmitted([.init(keyHash: key, total: 500, latest: 6)], now: 0)
        for _ in 0..<3 { XCTAssertTrue(admitted(&cache, now: 0)) }
        XCTAssertFalse(admitted(&cache, now: 0), "10 - 1 here - 6 there - 3 here")
        // Later readings: the increase of their total.
        cache.othersAdmitted([.init(keyHash: key, total: 510, latest: 10)], now: 0)
        XCTAssertFalse(admitted(&cache, now: second), "one second refilled 10, which pays the others' 10")
        XCTAssertTrue(admitted(&cache, now: second + second / 10), "then the rate goes on")
        cache.othersAdmitted([.init(keyHash: key, total: 20, latest: 0)], now: 2 * second)
        cache.othersAdmitted([.init(keyHash: key, total: 25, latest: 5)], now: 2 * second)
        guard case .fresh(_, let decision?) = cache.lookup(key, now: 2 * second) else { return XCTFail("cached") }
        XCTAssertEqual(decision.remaining, 3, "a drop (rows purged) is a new baseline: 10 - 5 - this one, minus the 0.9 s spent")
    }

    func testADebtIsCappedAtTenBursts() {
        var bucket = TokenBucket(rate: 10, burst: 10, now: 0)
        bucket.debit(1_000_000, now: 0)
        XCTAssertFalse(bucket.take(now: 10 * second).allowed, "10 s pays back 100 of the 100 owed, not yet one more")
        XCTAssertTrue(bucket.take(now: 11 * second + second / 5).allowed)
    }
}
