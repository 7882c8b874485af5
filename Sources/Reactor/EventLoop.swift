import CLinux
import Glibc
import Synchronization

/// A single-threaded epoll reactor: it owns one thread, watches file descriptors for readiness,
/// runs timers and runs jobs submitted from any thread.
///
/// Everything registered with a loop (I/O handlers, timers) is called on the loop's own thread,
/// so the state those callbacks touch needs no locks as long as only the loop touches it.
/// The PostgreSQL client drives its libpq connections from here, so no thread ever sits
/// blocked in libpq while a query is in flight.
///
/// ```swift
/// let loop = EventLoop(name: "pg-loop")
/// loop.execute { /* runs on the loop thread */ }
/// ```
public final class EventLoop: @unchecked Sendable {
    /// Called on the loop thread when a registered descriptor is ready.
    public typealias IOHandler = (IOEvents) -> Void

    private struct Registration {
        let generation: UInt32
        var interest: IOInterest
        let handler: IOHandler
    }

    private struct Inbox {
        var jobs: [() -> Void] = []
        var wakePending = false
        var stopRequested = false
        /// Set by the loop's last drain, in the same critical section that found the inbox
        /// empty: from then on nothing is taken in, so no job can slip in after the drain.
        var closed = false
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private let inbox = Mutex(Inbox())
    private let threadID = Atomic<UInt>(0)
    private let stopped = Atomic<Bool>(false)
    private let name: String
    private var thread: pthread_t?

    // Loop-thread state.
    /// Jobs submitted from the loop's own thread: no lock, no wake-up needed.
    private var localJobs: [() -> Void] = []
    private var registrations: [Int32: Registration] = [:]
    private var nextGeneration: UInt32 = 0
    private var timers = TimerQueue()

    /// Starts the loop's thread. `name` shows in `top -H` and debuggers (first 15 bytes).
    public init(name: String) {
        self.name = name
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epollFD >= 0, "epoll_create1 failed: errno \(errno)")
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        precondition(wakeFD >= 0, "eventfd failed: errno \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = UInt64(UInt32(bitPattern: wakeFD))
        precondition(epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0)
        startThread()
    }

    deinit {
        close(wakeFD)
        close(epollFD)
    }

    /// True once ``shutdown()`` has begun: jobs submitted now may never run.
    public var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// True when called on this loop's thread.
    public var inEventLoop: Bool {
        threadID.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// Runs `job` on the loop thread, after the jobs submitted before it. Callable from any thread.
    public func execute(_ job: @escaping @Sendable () -> Void) {
        _ = executeIfRunning(job)
    }

    /// ``execute(_:)``, telling whether `job` was taken: false once the loop has run its last
    /// jobs after ``shutdown()``, when `job` will never run (the caller runs it elsewhere).
    public func executeIfRunning(_ job: @escaping @Sendable () -> Void) -> Bool {
        if inEventLoop {
            localJobs.append(job)
            return true
        }
        let (taken, mustWake) = inbox.withLock { inbox -> (Bool, Bool) in
            guard !inbox.closed else { return (false, false) }
            inbox.jobs.append(job)
            defer { inbox.wakePending = true }
            return (true, !inbox.wakePending)
        }
        if mustWake { wake() }
        return taken
    }

    /// Stops the loop after the jobs already submitted (and the jobs they submit) have run, and
    /// waits for its thread to end. Jobs submitted after that never run, so shut a loop down
    /// only once everything that uses it has closed. Must not be called on the loop thread.
    /// Descriptors still registered are left open.
    public func shutdown() {
        precondition(!inEventLoop, "EventLoop.shutdown() called on its own thread")
        stopped.store(true, ordering: .releasing)
        inbox.withLock { $0.stopRequested = true }
        wake()
        if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
    }

    // MARK: Registration (loop thread only)

    /// Watches `fd` for `interest`; `handler` runs on the loop thread on every readiness (level-triggered).
    public func register(_ fd: Int32, interest: IOInterest, handler: @escaping IOHandler) throws(ReactorError) {
        assert(inEventLoop)
        nextGeneration &+= 1
        let registration = Registration(generation: nextGeneration, interest: interest, handler: handler)
        try control(EPOLL_CTL_ADD, fd: fd, registration: registration)
        registrations[fd] = registration
    }

    /// Changes what `fd` is watched for.
    public func setInterest(_ interest: IOInterest, for fd: Int32) throws(ReactorError) {
        assert(inEventLoop)
        guard var registration = registrations[fd], registration.interest != interest else { return }
        registration.interest = interest
        try control(EPOLL_CTL_MOD, fd: fd, registration: registration)
        registrations[fd] = registration
    }

    /// Stops watching `fd`. Call it before closing the descriptor.
    public func deregister(_ fd: Int32) {
        assert(inEventLoop)
        guard registrations.removeValue(forKey: fd) != nil else { return }
        // ENOENT/EBADF here mean the kernel already forgot the descriptor; nothing to undo.
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
    }

    // MARK: Timers (loop thread only)

    /// Runs `callback` on the loop thread once `delay` has passed, unless cancelled first.
    @discardableResult
    public func scheduleTimer(after delay: Duration, _ callback: @escaping () -> Void) -> TimerID {
        assert(inEventLoop)
        return timers.schedule(deadline: MonotonicClock.deadline(after: delay), callback)
    }

    /// Cancels a timer; a no-op if it already fired.
    public func cancelTimer(_ id: TimerID) {
        assert(inEventLoop)
        timers.cancel(id)
    }

    // MARK: The loop

    private func control(_ operation: Int32, fd: Int32, registration: Registration) throws(ReactorError) {
        var event = epoll_event()
        event.events = registration.interest.epollMask
        event.data.u64 = UInt64(registration.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        guard epoll_ctl(epollFD, operation, fd, &event) == 0 else {
            throw ReactorError(operation: "epoll_ctl", errno: errno)
        }
    }

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
    }

    private func startThread() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { context in
            let loop = Unmanaged<EventLoop>.fromOpaque(context!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        thread = handle
    }

    private func run() {
        threadID.store(UInt(pthread_self()), ordering: .releasing)
        _ = clinux_set_thread_name(name)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            let (jobs, stop) = inbox.withLock { inbox -> ([() -> Void], Bool) in
                let jobs = inbox.jobs
                inbox.jobs.removeAll(keepingCapacity: true)
                inbox.wakePending = false
                return (jobs, inbox.stopRequested)
            }
            for job in jobs { job() }
            runLocalJobs()
            if stop {
                // Jobs those last ones queued (a close answering a shutdown, say) still run.
                drainRemainingJobs()
                break
            }

            let count = epoll_wait(epollFD, &events, Int32(events.count), localJobs.isEmpty ? waitTimeoutMilliseconds() : 0)
            if count < 0 {
                precondition(errno == EINTR, "epoll_wait failed: errno \(errno)")
                continue
            }
            for index in 0..<Int(count) {
                dispatch(events[index])
            }
            let now = MonotonicClock.now()
            while let callback = timers.popExpired(now: now) { callback() }
            runLocalJobs()
        }
        threadID.store(0, ordering: .releasing)
    }

    private func runLocalJobs() {
        while !localJobs.isEmpty {
            let jobs = localJobs
            localJobs.removeAll(keepingCapacity: true)
            for job in jobs { job() }
        }
    }

    private func drainRemainingJobs() {
        while true {
            let noLocalJobs = localJobs.isEmpty
            let jobs = inbox.withLock { inbox -> [() -> Void] in
                defer { inbox.jobs.removeAll() }
                if inbox.jobs.isEmpty && noLocalJobs { inbox.closed = true }
                return inbox.jobs
            }
            if jobs.isEmpty && noLocalJobs { return }
            for job in jobs { job() }
            runLocalJobs()
        }
    }

    private func dispatch(_ event: epoll_event) {
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: event.data.u64))
        if fd == wakeFD {
            var value: UInt64 = 0
            _ = Glibc.read(wakeFD, &value, 8)
            return
        }
        let generation = UInt32(truncatingIfNeeded: event.data.u64 >> 32)
        // A handler earlier in this batch may have deregistered this fd, and the number may even
        // have been reused: the generation tells a stale event from a live one.
        guard let registration = registrations[fd], registration.generation == generation else { return }
        registration.handler(IOEvents(epollMask: event.events))
    }

    /// -1 (block) with no timers, else milliseconds to the next deadline, rounded up.
    private func waitTimeoutMilliseconds() -> Int32 {
        guard let deadline = timers.nextDeadline() else { return -1 }
        let now = MonotonicClock.now()
        guard deadline > now else { return 0 }
        return Int32(clamping: (deadline - now + 999_999) / 1_000_000)
    }
}
