@testable import Contacts
import XCTest

final class LRUCacheTests: XCTestCase {
    func testTheLeastRecentlyUsedEntryMakesRoom() {
        var cache = LRUCache<String, Int>(capacity: 3)
        XCTAssertTrue(cache.insert(1, forKey: "a"))
        XCTAssertTrue(cache.insert(2, forKey: "b"))
        XCTAssertTrue(cache.insert(3, forKey: "c"))
        XCTAssertEqual(cache.value(forKey: "a"), 1, "a is now the most recently used")
        XCTAssertEqual(cache.keysByRecency, ["a", "c", "b"])
        XCTAssertTrue(cache.insert(4, forKey: "d"))
        XCTAssertEqual(cache.keysByRecency, ["d", "a", "c"], "b, the least recently used, went")
        XCTAssertNil(cache.value(forKey: "b"))
        XCTAssertEqual(cache.count, 3)
        XCTAssertEqual(cache.update(forKey: "c") { value -> Int in value += 10; return value }, 13)
        XCTAssertEqual(cache.keysByRecency, ["c", "d", "a"], "an update is a use")
        XCTAssertEqual(cache.peekValue(forKey: "a"), 1)
        XCTAssertEqual(cache.keysByRecency, ["c", "d", "a"], "a peek is not")
        XCTAssertTrue(cache.insert(5, forKey: "d"), "a key already present gets the new value, full or not")
        XCTAssertEqual(cache.peekValue(forKey: "d"), 5)
        XCTAssertEqual(cache.count, 3)
        XCTAssertNil(cache.update(forKey: "zz") { _ in XCTFail("not run for an absent key") })
    }

    func testAFullCacheStoresNothingWhenItsOldestEntryMayNotGo() {
        var cache = LRUCache<String, Int>(capacity: 2)
        cache.insert(1, forKey: "live")
        cache.insert(2, forKey: "other")
        XCTAssertEqual(cache.leastRecentlyUsed?.key, "live")
        XCTAssertFalse(cache.insert(3, forKey: "new") { $0 != 1 }, "the oldest may not go")
        XCTAssertEqual(cache.keysByRecency, ["other", "live"], "nothing changed")
        XCTAssertNil(cache.peekValue(forKey: "new"))
        XCTAssertTrue(cache.insert(3, forKey: "new") { $0 == 1 })
        XCTAssertEqual(cache.keysByRecency, ["new", "other"])
        XCTAssertEqual(cache.removeValue(forKey: "other"), 2)
        XCTAssertNil(cache.removeValue(forKey: "other"))
        XCTAssertTrue(cache.insert(4, forKey: "x") { _ in false }, "not full: the predicate is not asked")
        XCTAssertEqual(cache.keysByRecency, ["x", "new"])
    }

    /// Random operations against a plain model (an array in order of use): the links, the
    /// free slots and the index stay consistent through every kind of change.
    func testRandomOperationsMatchAPlainModel() {
        var generator = SeededGenerator(seed: 11)
        var cache = LRUCache<Int, Int>(capacity: 16)
        var model: [(key: Int, value: Int)] = []  // most recent first
        for step in 0..<50_000 {
            let key = Int(generator.next() % 40)
            switch generator.next() % 5 {
            case 0, 1:
                let value = step
                let evictable = generator.next() % 4 != 0
                let stored = cache.insert(value, forKey: key) { _ in evictable }
                if let index = model.firstIndex(where: { $0.key == key }) {
                    model.remove(at: index)
                    model.insert((key, value), at: 0)
                    XCTAssertTrue(stored)
                } else if model.count < 16 || evictable {
                    if model.count >= 16 { model.removeLast() }
                    model.insert((key, value), at: 0)
                    XCTAssertTrue(stored)
                } else {
                    XCTAssertFalse(stored)
                }
            case 2:
                let expected = model.firstIndex { $0.key == key }.map { model.remove(at: $0) }
                if let expected { model.insert(expected, at: 0) }
                XCTAssertEqual(cache.value(forKey: key), expected?.value)
            case 3:
                let expected = model.firstIndex { $0.key == key }.map { model.remove(at: $0) }
                XCTAssertEqual(cache.removeValue(forKey: key), expected?.value)
            default:
                XCTAssertEqual(cache.peekValue(forKey: key), model.first { $0.key == key }?.value)
            }
            XCTAssertEqual(cache.count, model.count)
            if step % 97 == 0 {
                XCTAssertEqual(cache.keysByRecency, model.map(\.key), "order after step \(step)")
                XCTAssertEqual(cache.leastRecentlyUsed?.key, model.last?.key)
            }
        }
    }
}
