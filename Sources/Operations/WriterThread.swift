import Glibc
import Synchronization

/// A thread of its own that runs `work` when woken and at least every `interval`, until
/// stopped: for work that may block (a `write` to a pipe nobody reads) and so must never run
/// on an event loop or in the cooperative pool.
///
/// `@unchecked Sendable`: its only state is two POSIX semaphores, made for use from any
/// thread, and atomics; the pointers to the semaphores never change.
final class WriterThread: @unchecked Sendable {
    private let wakeSignal = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let finishedSignal = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private let wakePending = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let intervalNanoseconds: Int
    private let work: @Sendable () -> Void

    /// Starts the thread.
    init(interval: Duration, work: @escaping @Sendable () -> Void) {
        sem_init(wakeSignal, 0, 0)
        sem_init(finishedSignal, 0, 0)
        let (seconds, attoseconds) = interval.components
        intervalNanoseconds = max(1_000_000, Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        self.work = work
        // The thread holds a reference of its own, released when it ends: a thread abandoned
        // by `stop(within:)` keeps its semaphores valid for as long as it runs.
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { context in
            let thread = Unmanaged<WriterThread>.fromOpaque(context!).takeRetainedValue()
            thread.run()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        pthread_detach(handle)
    }

    deinit {
        sem_destroy(wakeSignal)
        sem_destroy(finishedSignal)
        wakeSignal.deallocate()
        finishedSignal.deallocate()
    }

    /// Runs `work` soon (at most one wake-up is pending at a time). Never blocks.
    func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) { sem_post(wakeSignal) }
    }

    /// Runs `work` one last time and ends the thread; waits for that up to `timeout`. Returns
    /// false if the thread was still busy then (it is abandoned; the process may exit anyway).
    @discardableResult
    func stop(within timeout: Duration) -> Bool {
        stopping.store(true, ordering: .releasing)
        sem_post(wakeSignal)
        var deadline = Self.deadline(after: Int(timeout.components.seconds) * 1_000_000_000
                                     + Int(timeout.components.attoseconds / 1_000_000_000))
        while sem_timedwait(finishedSignal, &deadline) != 0 {
            if errno != EINTR { return false }
        }
        return true
    }

    private func run() {
        while true {
            var deadline = Self.deadline(after: intervalNanoseconds)
            while sem_timedwait(wakeSignal, &deadline) != 0, errno == EINTR {}
            wakePending.store(false, ordering: .releasing)
            let last = stopping.load(ordering: .acquiring)
            work()
            if last { break }
        }
        sem_post(finishedSignal)
    }

    /// `sem_timedwait` takes an absolute `CLOCK_REALTIME` time.
    private static func deadline(after nanoseconds: Int) -> timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let total = now.tv_nsec + nanoseconds % 1_000_000_000
        return timespec(tv_sec: now.tv_sec + nanoseconds / 1_000_000_000 + total / 1_000_000_000, tv_nsec: total % 1_000_000_000)
    }

    /// Writes all of `bytes` to `descriptor`, retrying short writes and interruptions and
    /// waiting for room when the descriptor is non-blocking; a closed or broken descriptor drops
    /// them. Blocks while a pipe is full: call it only from a writer thread.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else if written < 0, errno == EAGAIN {
                    var waiting = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&waiting, 1, -1)
                } else {
                    return
                }
            }
        }
    }
}
