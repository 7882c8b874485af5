import Contacts
import XCTest

final class TokenBucketTests: XCTestCase {
    func testABucketAllowsItsBurstThenRefillsAtItsRate() {
        let second: UInt64 = 1_000_000_000
        var bucket = TokenBucket(rate: 2, burst: 3, now: 0)
        XCTAssertEqual((0..<3).map { _ in bucket.take(now: 0).allowed }, [true, true, true])
        let refused = bucket.take(now: 0)
        XCTAssertFalse(refused.allowed)
        XCTAssertEqual(refused.remaining, 0)
        XCTAssertEqual(refused.retryAfterSeconds, 1)
        XCTAssertEqual(refused.resetSeconds, 2, "3 tokens at 2 a second")
        XCTAssertTrue(bucket.take(now: second / 2).allowed, "half a second later one token is back")
        XCTAssertFalse(bucket.take(now: second / 2).allowed)
        let later = bucket.take(now: 10 * second)
        XCTAssertTrue(later.allowed)
        XCTAssertEqual(later.remaining, 2, "full (3) minus this one")
    }

    func testABucketIsFullOnceItHasRefilledAndTakesBackAToken() {
        let second: UInt64 = 1_000_000_000
        var bucket = TokenBucket(rate: 2, burst: 4, now: 0)
        XCTAssertTrue(bucket.isFull(now: 0), "a new bucket is full")
        for _ in 0..<4 { XCTAssertTrue(bucket.take(now: 0).allowed) }
        XCTAssertFalse(bucket.isFull(now: 0))
        XCTAssertFalse(bucket.isFull(now: 2 * second - 1), "4 tokens at 2 a second take 2 s")
        XCTAssertTrue(bucket.isFull(now: 2 * second))
        bucket.giveBack(now: second / 2)
        XCTAssertEqual(bucket.take(now: second / 2).remaining, 1, "1 refilled + 1 given back - 1 taken")
        var full = TokenBucket(rate: 1, burst: 2, now: 0)
        full.giveBack(now: 0)
        XCTAssertEqual(full.take(now: 0).remaining, 1, "never more than the burst")
    }
}
