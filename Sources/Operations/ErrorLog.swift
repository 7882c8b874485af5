import Codecs
import Glibc
import Synchronization

/// The error log: one line on standard error per failure worth an operator's attention (a
/// request answered `500`), in the access log's format, e.g.
///
/// ```
/// time=2026-11-29T20:51:45.068Z level=error msg=internal_error request_id=85b4… error=postgres.server sqlstate=22012 constraint=contacts_guard
/// ```
///
/// It writes the fields its caller gives, in that order, each value escaped the way the access
/// log escapes (no value can start a new line or field). What goes in is the caller's
/// responsibility, and for the API that means causes, never content: no key, no parameter
/// values, no database message (PostgreSQL's messages quote values).
///
/// Like the access log, ``record(_:_:)`` never waits for the write: a ``WriterThread`` writes
/// each line as soon as it is woken, and when standard error stalls, lines queue up to
/// `maxPendingBytes` and past that are dropped and counted in ``droppedLines``. With
/// `writesInBackground: false` every line is written at once on the caller's thread (tests).
public final class ErrorLog: Sendable {
    /// Where lines go: standard error unless a test captures them. May block: only the writer
    /// thread (or the caller, without one) waits for it.
    public typealias Sink = @Sendable ([UInt8]) -> Void

    public let format: AccessLog.Format
    private let queue: Queue
    private let writer: WriterThread?

    public init(format: AccessLog.Format, writesInBackground: Bool = true, maxPendingBytes: Int = 64 * 1024,
                sink: @escaping Sink = ErrorLog.standardError) {
        self.format = format
        let queue = Queue(sink: sink, maxPendingBytes: maxPendingBytes)
        self.queue = queue
        writer = writesInBackground ? WriterThread(interval: .seconds(1)) { queue.write() } : nil
    }

    deinit {
        writer?.stop(within: .zero)
    }

    /// Lines dropped because standard error could not keep up.
    public var droppedLines: Int { queue.dropped.load(ordering: .relaxed) }

    /// Queues one line: `time`, `level=error`, `msg=message`, then `fields` in order.
    public func record(_ message: String, _ fields: [(String, String)]) {
        guard queue.append(message, fields, format: format) else {
            queue.dropped.add(1, ordering: .relaxed)
            return
        }
        if let writer { writer.wake() } else { queue.write() }
    }

    /// Writes what is left and stops the writer thread, waiting for it up to `timeout`.
    public func close(within timeout: Duration = .seconds(2)) {
        if let writer { writer.stop(within: timeout) } else { queue.write() }
    }

    /// The lines waiting for the sink.
    private final class Queue: Sendable {
        private struct Pending {
            var bytes: [UInt8] = []
            var clock = LogClock()
        }

        let sink: Sink
        let maxPendingBytes: Int
        let dropped = Atomic<Int>(0)
        private let pending = Mutex(Pending())
        /// Held while lines are written, so they reach the sink in the order they were taken.
        private let writing = Mutex(())

        init(sink: @escaping Sink, maxPendingBytes: Int) {
            self.sink = sink
            self.maxPendingBytes = maxPendingBytes
        }

        /// Formats and queues a line; false when too much is waiting already.
        func append(_ message: String, _ fields: [(String, String)], format: AccessLog.Format) -> Bool {
            pending.withLock { pending in
                guard pending.bytes.count < maxPendingBytes else { return false }
                ErrorLog.append(message, fields, time: pending.clock.tick(), format: format, to: &pending.bytes)
                return true
            }
        }

        func write() {
            writing.withLock { _ in
                let batch = pending.withLock { pending -> [UInt8] in
                    defer { pending.bytes.removeAll() }
                    return pending.bytes
                }
                if !batch.isEmpty { sink(batch) }
            }
        }
    }

    static func append(_ message: String, _ fields: [(String, String)], time: LogClock.Time, format: AccessLog.Format,
                       to line: inout [UInt8]) {
        switch format {
        case .logfmt:
            LogText.appendLogfmtOpening(time: time, level: "error", to: &line)
            for (key, value) in [("msg", message)] + fields {
                line.append(contentsOf: " \(key)=".utf8)
                LogText.appendLogfmtValue(value, to: &line)
            }
        case .json:
            JSONWriter.append(to: &line) { json in
                LogText.beginJSON(&json, time: time, level: "error")
                for (key, value) in [("msg", message)] + fields {
                    json.key(key)
                    json.string(value)
                }
                json.endObject()
            }
        }
        line.append(UInt8(ascii: "\n"))
    }

    /// Writes `bytes` to standard error (``WriterThread/writeAll(_:to:)``): only from the
    /// writer thread, since a full pipe blocks it.
    @Sendable
    public static func standardError(_ bytes: [UInt8]) {
        WriterThread.writeAll(bytes, to: 2)
    }
}
