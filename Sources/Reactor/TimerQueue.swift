/// Identifies a timer scheduled on an ``EventLoop`` so that it can be cancelled.
public struct TimerID: Hashable, Sendable {
    let rawValue: UInt64
}

/// A binary min-heap of timers ordered by deadline, owned by one event loop thread.
///
/// Cancelling marks the timer dead in `callbacks` (O(1)); its heap entry is dropped when it
/// reaches the top. That keeps cancellation cheap for the common case of timeouts that never fire.
struct TimerQueue {
    private struct Entry {
        let deadline: UInt64
        let id: UInt64
    }

    private var heap: [Entry] = []
    private var callbacks: [UInt64: () -> Void] = [:]
    private var nextID: UInt64 = 0

    var isEmpty: Bool { callbacks.isEmpty }

    mutating func schedule(deadline: UInt64, _ callback: @escaping () -> Void) -> TimerID {
        nextID += 1
        callbacks[nextID] = callback
        heap.append(Entry(deadline: deadline, id: nextID))
        siftUp(heap.count - 1)
        return TimerID(rawValue: nextID)
    }

    mutating func cancel(_ id: TimerID) {
        callbacks[id.rawValue] = nil
    }

    /// The earliest live deadline, discarding cancelled entries on the way.
    mutating func nextDeadline() -> UInt64? {
        while let top = heap.first {
            if callbacks[top.id] != nil { return top.deadline }
            popTop()
        }
        return nil
    }

    /// Removes and returns the callback of the earliest live timer due at `now`. Taken one at a
    /// time, so a callback that cancels another due timer prevents it from running.
    mutating func popExpired(now: UInt64) -> (() -> Void)? {
        while let top = heap.first, top.deadline <= now {
            popTop()
            if let callback = callbacks.removeValue(forKey: top.id) { return callback }
        }
        return nil
    }

    private mutating func popTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].deadline < heap[left].deadline { smallest = left + 1 }
            guard heap[smallest].deadline < heap[parent].deadline else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
