/// An event loop runs Swift tasks too: a task started with
/// `Task(executorPreference: loop)` runs its synchronous stretches on the loop's thread and
/// comes back to it after each suspension. The HTTP server runs each request's handler this
/// way, so a request that never leaves the loop costs no thread hop at all.
extension EventLoop: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
