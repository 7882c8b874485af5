import Glibc
import Synchronization

/// The access log: one line per answered request, as logfmt
/// (`time=… level=info msg=request bytes_in=0 … status=200`) or one JSON object, fields in
/// sorted order after `time`, `level` and `msg`.
///
/// Lines are formatted straight into a byte buffer and written in batches: when the buffer
/// passes `bufferLimit` bytes, every `flushInterval`, and at ``close()``. A `write` per line cost
/// more than the rest of a `/healthz` request (measured with `perf`); a batch never splits a
/// line, so lines from several threads never mix. With `flushInterval: nil` every line is
/// written at once (tests use that to read lines right after a request).
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

        public init(requestID: String, peer: String, method: String, route: String, listing: String, keyPrefix: String,
                    status: Int, durationMilliseconds: Double, bytesIn: Int, bytesOut: Int) {
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
        }
    }

    /// Where batches go: standard output unless a test captures them.
    public typealias Sink = @Sendable ([UInt8]) -> Void

    public let format: Format
    private let sink: Sink
    private let bufferLimit: Int
    private let immediate: Bool
    private let pending = Mutex(Pending())
    /// Held while a batch is written, so batches reach the sink in the order they were taken.
    private let writing = Mutex(())
    private let flusher = Mutex<Task<Void, Never>?>(nil)

    private struct Pending {
        var bytes: [UInt8] = []
        var clock = LogClock()
    }

    public init(format: Format, flushInterval: Duration? = .milliseconds(200), bufferLimit: Int = 64 * 1024,
                sink: @escaping Sink = AccessLog.standardOutput) {
        self.format = format
        self.sink = sink
        self.bufferLimit = bufferLimit
        self.immediate = flushInterval == nil
        guard let flushInterval else { return }
        let task = Task.detached { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: flushInterval)
                guard let self else { return }
                self.flush()
            }
        }
        flusher.withLock { $0 = task }
    }

    deinit {
        flusher.withLock { $0?.cancel() }
    }

    public func record(_ entry: Entry) {
        let full = pending.withLock { pending in
            Self.append(entry, time: pending.clock.tick(), format: format, to: &pending.bytes)
            return immediate || pending.bytes.count >= bufferLimit
        }
        if full { flush() }
    }

    /// Writes what is buffered.
    public func flush() {
        writing.withLock { _ in
            let batch = pending.withLock { pending -> [UInt8] in
                defer { pending.bytes.removeAll(keepingCapacity: true) }
                return pending.bytes
            }
            if !batch.isEmpty { sink(batch) }
        }
    }

    /// Stops the periodic flush and writes what is left.
    public func close() {
        flusher.withLock { $0?.cancel() }
        flush()
    }

    /// Writes all of `bytes` to file descriptor 1, retrying short writes and interruptions.
    @Sendable
    public static func standardOutput(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return  // a closed or broken stdout: drop the batch rather than stall requests
                }
            }
        }
    }

    // MARK: Formatting

    /// A field's value: numbers are bare in logfmt and quoted strings in JSON.
    private enum FieldValue {
        case number(Int)
        case milliseconds(Double)
        case text(String)
    }

    /// One line: `time`, `level`, `msg`, then the entry's fields in sorted order, as logfmt
    /// (`key=value`, quoted when needed) or as one JSON object.
    static func append(_ entry: Entry, time: LogClock.Time, format: Format, to out: inout [UInt8]) {
        let json = format == .json
        out.append(contentsOf: (json ? #"{"time":""# : "time=").utf8)
        time.append(to: &out)
        out.append(contentsOf: (json ? #"","level":"info","msg":"request""# : " level=info msg=request").utf8)
        func field(_ key: String, _ value: FieldValue) {
            if json {
                out.append(contentsOf: #",""#.utf8)
                out.append(contentsOf: key.utf8)
                out.append(contentsOf: #"":"#.utf8)
            } else {
                out.append(UInt8(ascii: " "))
                out.append(contentsOf: key.utf8)
                out.append(UInt8(ascii: "="))
            }
            switch value {
            case .text(let text):
                if json { out.append(contentsOf: JSONText.quoted(text).utf8) } else { LogText.appendLogfmtValue(text, to: &out) }
            case .number(let number):
                if json { out.append(UInt8(ascii: "\"")) }
                LogText.appendDecimal(number, to: &out)
                if json { out.append(UInt8(ascii: "\"")) }
            case .milliseconds(let milliseconds):
                if json { out.append(UInt8(ascii: "\"")) }
                LogText.appendMilliseconds(milliseconds, to: &out)
                if json { out.append(UInt8(ascii: "\"")) }
            }
        }
        field("bytes_in", .number(entry.bytesIn))
        field("bytes_out", .number(entry.bytesOut))
        field("duration_ms", .milliseconds(entry.durationMilliseconds))
        field("key_prefix", .text(entry.keyPrefix))
        field("listing", .text(entry.listing))
        field("method", .text(entry.method))
        field("peer", .text(entry.peer))
        field("request_id", .text(entry.requestID))
        field("route", .text(entry.route))
        field("status", .number(entry.status))
        out.append(contentsOf: (json ? "}\n" : "\n").utf8)
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
            out.append(UInt8(ascii: "0") + UInt8(milliseconds / 100))
            out.append(UInt8(ascii: "0") + UInt8(milliseconds / 10 % 10))
            out.append(UInt8(ascii: "0") + UInt8(milliseconds % 10))
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
            prefix = Array((LogText.padded(Int(parts.tm_year) + 1900, 4) + "-" + LogText.padded(Int(parts.tm_mon) + 1, 2) + "-"
                + LogText.padded(Int(parts.tm_mday), 2) + "T" + LogText.padded(Int(parts.tm_hour), 2) + ":"
                + LogText.padded(Int(parts.tm_min), 2) + ":" + LogText.padded(Int(parts.tm_sec), 2) + ".").utf8)
        }
        return Time(prefix: prefix, milliseconds: min(999, spec.tv_nsec / 1_000_000))
    }
}
