import Dispatch
import Synchronization

/// Runs async work from a synchronous test (on XCTest's main thread, off the cooperative pool,
/// so blocking sockets in the test never starve the tasks the server needs).
public func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value: Result<T, Error>
        do { value = .success(try await body()) } catch { value = .failure(error) }
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
