import Codecs
import Glibc
import Synchronization

/// The access log: one line per answered request, as logfmt
/// (`time=… level=info msg=request bytes_in=0 … status=200`) or one JSON object, fields in
/// sorted order after `time`, `level` and `msg`.
///
/// Lines are formatted straight into a byte buffer, and a thread of its own writes them in
/// batches: when the buffer passes `bufferLimit` bytes, every `flushInterval`, and at
/// ``close(within:)``. A `write` per line cost more than the rest of a `/healthz` request
/// (measured with `perf`); a batch never splits a line, so lines from several threads never
/// mix. ``record(_:)`` never writes and never waits for a write: when standard output stalls
/// (a pipe nobody reads), lines queue up to `maxPendingBytes`, and past that they are dropped
/// and counted in ``droppedLines`` instead of stopping requests.
///
/// With `flushInterval: nil` there is no thread and every line is written at once, on the
/// caller's thread (tests use that to read lines right after a request).
public final class AccessLog: Sendable {
    /// How a line is written.
    public enum Format: String, Sendable, CaseIterable {
        case logfmt
        case json
    }

    /// What one line says about one request.
    public struct Entry: Sendable {
        public var requestID: String
        public var peer: String
        public var method: String
        public var route: String
        public var listing: String
        public var keyPrefix: String
        public var status: Int
        public var durationMilliseconds: Double
        public var bytesIn: Int
        public var bytesOut: Int
        /// What the client got instead of `status`, when that differs: a handler that answered
        /// after its deadline produced `status`, the client had the server's `503`. Logged as
        /// `client_status` only then.
        public var clientStatus: Int?

        public init(requestID: String, peer: String, method: String, route: String, listing: String, keyPrefix: String,
                    status: Int, durationMilliseconds: Double, bytesIn: Int, bytesOut: Int, clientStatus: Int? = nil) {
            self.requestID = requestID
            self.peer = peer
            self.method = method
            self.route = route
            self.listing = listing
            self.keyPrefix = keyPrefix
            self.status = status
            self.durationMilliseconds = durationMilliseconds
            self.bytesIn = bytesIn
            self.bytesOut = bytesOut
            self.clientStatus = clientStatus
        }
    }

    /// Where batches go: standard output unless a test captures them. May block: only the
    /// writer thread (or ``flush()``'s caller) waits for it.
    public typealias Sink = @Sendable ([UInt8]) -> Void

    public let format: Format
    private let queue: Queue
    private let immediate: Bool
    private let writer: WriterThread?

    /// - Parameters:
    ///   - bufferLimit: bytes that wake the writer before its interval is up.
    ///   - maxPendingBytes: bytes that may wait for a stalled sink (besides the batch being
    ///     written); lines past them are dropped and counted. Default: four buffers.
    public init(format: Format, flushInterval: Duration? = .milliseconds(200), bufferLimit: Int = 64 * 1024,
                maxPendingBytes: Int? = nil, sink: @escaping Sink = AccessLog.standardOutput) {
        self.format = format
        let queue = Queue(sink: sink, bufferLimit: bufferLimit, maxPendingBytes: maxPendingBytes ?? 4 * bufferLimit)
        self.queue = queue
        immediate = flushInterval == nil
        // The thread holds the queue, not the log, so that a log dropped unclosed can end it.
        writer = flushInterval.map { WriterThread(interval: $0) { queue.write() } }
    }

    deinit {
        writer?.stop(within: .zero)
    }

    /// Lines dropped because the sink could not keep up (standard output stalled).
    public var droppedLines: Int { queue.dropped.load(ordering: .relaxed) }

    /// Queues one line; never blocks on the sink (except in the immediate mode).
    public func record(_ entry: Entry) {
        switch queue.append(entry, format: format) {
        case .dropped: queue.dropped.add(1, ordering: .relaxed)
        case .full: if let writer { writer.wake() } else { flush() }
        case .queued: if immediate { flush() }
        }
    }

    /// Writes what is buffered, on the calling thread, waiting for the sink: for tests and
    /// the immediate mode, never for an event loop.
    public func flush() {
        queue.write()
    }

    /// Writes what is left and stops the writer thread, waiting for it up to `timeout` (a
    /// stalled standard output must not hold up the process's exit).
    public func close(within timeout: Duration = .seconds(2)) {
        if let writer {
            writer.stop(within: timeout)
        } else {
            flush()
        }
    }

    /// The lines waiting for the sink, shared by whoever records and whoever writes.
    private final class Queue: Sendable {
        enum Outcome { case queued, full, dropped }

        private struct Pending {
            var bytes: [UInt8] = []
            var clock = LogClock()
        }

        let sink: Sink
        let bufferLimit: Int
        let maxPendingBytes: Int
        let dropped = Atomic<Int>(0)
        private let pending = Mutex(Pending())
        /// Held while a batch is written, so batches reach the sink in the order they were taken.
        private let writing = Mutex(())

        init(sink: @escaping Sink, bufferLimit: Int, maxPendingBytes: Int) {
            self.sink = sink
            self.bufferLimit = bufferLimit
            self.maxPendingBytes = maxPendingBytes
        }

        func append(_ entry: Entry, format: Format) -> Outcome {
            pending.withLock { pending in
                guard pending.bytes.count < maxPendingBytes else { return .dropped }
                AccessLog.append(entry, time: pending.clock.tick(), format: format, to: &pending.bytes)
                return pending.bytes.count >= bufferLimit ? .full : .queued
            }
        }

        /// Takes what is pending and hands it to the sink (which may block).
        func write() {
            writing.withLock { _ in
                let batch = pending.withLock { pending -> [UInt8] in
                    defer { pending.bytes.removeAll(keepingCapacity: pending.bytes.capacity <= 2 * bufferLimit) }
                    return pending.bytes
                }
                if !batch.isEmpty { sink(batch) }
            }
        }
    }

    /// Writes `bytes` to standard output (``WriterThread/writeAll(_:to:)``): only from the
    /// writer thread, since a full pipe blocks it.
    @Sendable
    public static func standardOutput(_ bytes: [UInt8]) {
        WriterThread.writeAll(bytes, to: 1)
    }

    // MARK: Formatting

    /// A field's value: numbers are bare in logfmt and quoted strings in JSON.
    private enum FieldValue {
        case number(Int)
        case milliseconds(Double)
        case text(String)
    }

    /// Calls `field` with each of the entry's fields, in sorted order (`client_status` only
    /// when there is one).
    private static func forEachField(of entry: Entry, _ field: (String, FieldValue) -> Void) {
        field("bytes_in", .number(entry.bytesIn))
        field("bytes_out", .number(entry.bytesOut))
        if let clientStatus = entry.clientStatus { field("client_status", .number(clientStatus)) }
        field("duration_ms", .milliseconds(entry.durationMilliseconds))
        field("key_prefix", .text(entry.keyPrefix))
        field("listing", .text(entry.listing))
        field("method", .text(entry.method))
        field("peer", .text(entry.peer))
        field("request_id", .text(entry.requestID))
        field("route", .text(entry.route))
        field("status", .number(entry.status))
    }

    /// One line: `time`, `level`, `msg`, then the entry's fields in sorted order, as logfmt
    /// (`key=value`, quoted when needed) or as one JSON object.
    static func append(_ entry: Entry, time: LogClock.Time, format: Format, to out: inout [UInt8]) {
        switch format {
        case .logfmt: appendLogfmt(entry, time: time, to: &out)
        case .json: appendJSON(entry, time: time, to: &out)
        }
    }

    private static func appendLogfmt(_ entry: Entry, time: LogClock.Time, to out: inout [UInt8]) {
        LogText.appendLogfmtOpening(time: time, level: "info", to: &out)
        out.append(contentsOf: " msg=request".utf8)
        forEachField(of: entry) { key, value in
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: key.utf8)
            out.append(UInt8(ascii: "="))
            switch value {
            case .text(let text): LogText.appendLogfmtValue(text, to: &out)
            case .number(let number): LogText.appendDecimal(number, to: &out)
            case .milliseconds(let milliseconds): LogText.appendMilliseconds(milliseconds, to: &out)
            }
        }
        out.append(UInt8(ascii: "\n"))
    }

    private static func appendJSON(_ entry: Entry, time: LogClock.Time, to out: inout [UInt8]) {
        JSONWriter.append(to: &out) { line in
            LogText.beginJSON(&line, time: time, level: "info")
            line.key("msg")
            line.string("request")
            forEachField(of: entry) { key, value in
                line.key(key)
                switch value {
                case .text(let text): line.string(text)
                case .number(let number): line.string(unescaped: { LogText.appendDecimal(number, to: &$0) })
                case .milliseconds(let milliseconds): line.string(unescaped: { LogText.appendMilliseconds(milliseconds, to: &$0) })
                }
            }
            line.endObject()
        }
        out.append(UInt8(ascii: "\n"))
    }
}

/// RFC 3339 UTC timestamps with milliseconds, the calendar part computed once per second.
struct LogClock {
    /// A moment: the calendar part up to the seconds' dot, and the milliseconds.
    struct Time {
        let prefix: [UInt8]
        let milliseconds: Int

        func append(to out: inout [UInt8]) {
            out.append(contentsOf: prefix)
            ASCII.appendZeroPadded(Int64(milliseconds), width: 3, to: &out)
            out.append(UInt8(ascii: "Z"))
        }
    }

    private var second: Int = -1
    private var prefix: [UInt8] = []

    mutating func tick() -> Time {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        if spec.tv_sec != second {
            second = spec.tv_sec
            var seconds = spec.tv_sec
            var parts = tm()
            gmtime_r(&seconds, &parts)
            prefix = []
            let fields: [(Int32, Int, Unicode.Scalar)] = [
                (parts.tm_year + 1900, 4, "-"), (parts.tm_mon + 1, 2, "-"), (parts.tm_mday, 2, "T"),
                (parts.tm_hour, 2, ":"), (parts.tm_min, 2, ":"), (parts.tm_sec, 2, "."),
            ]
            for (value, width, separator) in fields {
                ASCII.appendZeroPadded(Int64(value), width: width, to: &prefix)
                prefix.append(UInt8(ascii: separator))
            }
        }
        return Time(prefix: prefix, milliseconds: min(999, spec.tv_nsec / 1_000_000))
    }
}
