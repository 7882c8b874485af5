/// An event loop runs Swift tasks too: a task started with
/// `Task(executorPreference: loop)` runs its synchronous stretches on the loop's thread and
/// comes back to it after each suspension. The HTTP server runs each request's handler this
/// way, so a request that never leaves the loop costs no thread hop at all.
///
/// Once the loop has stopped, its tasks carry on on the global executor rather than never
/// resuming: a handler still waiting for the database at shutdown can still finish and hand
/// its connection back to the pool.
extension EventLoop: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // Refused only once the loop has run its last jobs: a job arriving during shutdown is
        // either run by the loop's final drain or handed to the global executor, never dropped.
        if !executeIfRunning({ job.runSynchronously(on: self.asUnownedTaskExecutor()) }) {
            globalConcurrentExecutor.enqueue(job)
        }
    }
}
