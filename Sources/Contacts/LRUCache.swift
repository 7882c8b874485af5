/// A dictionary of at most `capacity` entries that knows which one was used least recently,
/// with every operation O(1): the entries live in one array, linked by index from the most to
/// the least recently used, and a dictionary maps each key to its slot. Freed slots are reused,
/// so the array never grows past `capacity` and a full cache allocates nothing per insert.
///
/// When it is full, the caller decides whether the least recently used entry may go:
/// ``insert(_:forKey:evictingIf:)`` evicts it only if `evictingIf` says so, and otherwise
/// stores nothing. (A cache of token buckets must not drop a bucket that is still counting:
/// the next request would get a full one.) Only that one entry is ever examined, so a full
/// cache costs no scan.
///
/// Not thread-safe: the owner keeps it under its lock.
///
/// ```swift
/// var cache = LRUCache<String, Int>(capacity: 2)
/// cache.insert(1, forKey: "a")
/// cache.insert(2, forKey: "b")
/// _ = cache.value(forKey: "a")        // "a" is now the most recently used
/// cache.insert(3, forKey: "c")        // evicts "b"
/// ```
public struct LRUCache<Key: Hashable, Value> {
    fileprivate struct Slot {
        var key: Key
        var value: Value
        /// The next more recently used slot; -1 for the most recent.
        var newer: Int
        /// The next less recently used slot; -1 for the least recent.
        var older: Int
    }

    public let capacity: Int
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private var positions: [Key: Int] = [:]
    private var newest = -1
    private var oldest = -1

    public init(capacity: Int) {
        precondition(capacity > 0, "an LRU cache holds at least one entry")
        self.capacity = capacity
    }

    public var count: Int { positions.count }

    /// The value stored for `key`, which becomes the most recently used; nil when absent.
    public mutating func value(forKey key: Key) -> Value? {
        guard let slot = positions[key] else { return nil }
        touch(slot)
        return slots[slot].value
    }

    /// The value stored for `key`, leaving the order of use as it is (for tests).
    func peekValue(forKey key: Key) -> Value? {
        positions[key].map { slots[$0].value }
    }

    /// Runs `body` on the value stored for `key` in place and makes it the most recently used;
    /// nil, without running `body`, when the key is absent.
    public mutating func update<Result>(forKey key: Key, _ body: (inout Value) throws -> Result) rethrows -> Result? {
        guard let slot = positions[key] else { return nil }
        touch(slot)
        return try body(&slots[slot].value)
    }

    /// The entry that would be evicted next (for tests).
    var leastRecentlyUsed: (key: Key, value: Value)? {
        oldest >= 0 ? (slots[oldest].key, slots[oldest].value) : nil
    }

    /// Stores `value` for `key` as the most recently used entry (replacing the value of a key
    /// already present). When the cache is full, the least recently used entry makes room if
    /// `evictable` returns true for its value; otherwise nothing is stored and the result is false.
    @discardableResult
    public mutating func insert(_ value: Value, forKey key: Key, evictingIf evictable: (Value) -> Bool = { _ in true }) -> Bool {
        if let slot = positions[key] {
            slots[slot].value = value
            touch(slot)
            return true
        }
        if positions.count >= capacity {
            guard oldest >= 0, evictable(slots[oldest].value) else { return false }
            remove(slot: oldest)
        }
        let entry = Slot(key: key, value: value, newer: -1, older: newest)
        let slot: Int
        if let free = freeSlots.popLast() {
            slots[free] = entry
            slot = free
        } else {
            slots.append(entry)
            slot = slots.count - 1
        }
        if newest >= 0 { slots[newest].newer = slot } else { oldest = slot }
        newest = slot
        positions[key] = slot
        return true
    }

    /// Removes the entry for `key`, returning its value.
    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard let slot = positions[key] else { return nil }
        let value = slots[slot].value
        remove(slot: slot)
        return value
    }

    /// The keys from the most to the least recently used (O(n): for tests).
    var keysByRecency: [Key] {
        var keys: [Key] = []
        keys.reserveCapacity(count)
        var slot = newest
        while slot >= 0 {
            keys.append(slots[slot].key)
            slot = slots[slot].older
        }
        return keys
    }

    private mutating func unlink(_ slot: Int) {
        let newer = slots[slot].newer, older = slots[slot].older
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
    }

    private mutating func remove(slot: Int) {
        unlink(slot)
        positions[slots[slot].key] = nil
        freeSlots.append(slot)
    }

    private mutating func touch(_ slot: Int) {
        guard slot != newest else { return }
        // Not the newest, so at least one other entry remains linked after unlinking it.
        unlink(slot)
        slots[slot].newer = -1
        slots[slot].older = newest
        slots[newest].newer = slot
        newest = slot
    }
}

extension LRUCache: Sendable where Key: Sendable, Value: Sendable {}
extension LRUCache.Slot: Sendable where Key: Sendable, Value: Sendable {}
