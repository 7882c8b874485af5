import Dispatch
import Glibc

/// Waits for SIGTERM or SIGINT, the signals that ask a server to shut down gracefully. A
/// second signal while the shutdown is under way ends the process at once (exit status 1).
///
/// The signals' default action (terminate at once) is replaced for the whole process, so
/// call this only in a process that means to shut down by itself when asked.
enum TerminationSignals {
    /// Suspends until SIGTERM or SIGINT arrives; returns which one.
    static func wait() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            install { continuation.resume(returning: $0) }
        }
    }

    private static func install(_ onSignal: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "termination-signals")
        let fired = DispatchSemaphoreFlag()
        var sources: [DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { @Sendable in
                // The first signal starts a graceful shutdown; a second one means "now".
                if fired.set() { onSignal(signalNumber) } else { _exit(1) }
            }
            source.resume()
            sources.append(source)
        }
        retained.append(contentsOf: sources)
    }

    /// Dispatch sources stop when released: keep them for the life of the process.
    nonisolated(unsafe) private static var retained: [DispatchSourceSignal] = []
}

/// Set once, from any thread: the first signal wins, later ones are ignored.
private final class DispatchSemaphoreFlag: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 1)

    /// True for the first caller only.
    func set() -> Bool { semaphore.wait(timeout: .now()) == .success }
}
