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
/// Each line is written at once with one `write`: failures are rare, and the line should be out
/// before whatever follows them.
public final class ErrorLog: Sendable {
    /// Where lines go: standard error unless a test captures them.
    public typealias Sink = @Sendable ([UInt8]) -> Void

    public let format: AccessLog.Format
    private let sink: Sink
    private let clock = Mutex(LogClock())

    public init(format: AccessLog.Format, sink: @escaping Sink = ErrorLog.standardError) {
        self.format = format
        self.sink = sink
    }

    /// Writes one line: `time`, `level=error`, `msg=message`, then `fields` in order.
    public func record(_ message: String, _ fields: [(String, String)]) {
        let time = clock.withLock { $0.tick() }
        let json = format == .json
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(contentsOf: (json ? #"{"time":""# : "time=").utf8)
        time.append(to: &line)
        line.append(contentsOf: (json ? #"","level":"error""# : " level=error").utf8)
        for (key, value) in [("msg", message)] + fields {
            if json {
                line.append(contentsOf: ("," + JSONText.quoted(key) + ":" + JSONText.quoted(value)).utf8)
            } else {
                line.append(contentsOf: " \(key)=".utf8)
                LogText.appendLogfmtValue(value, to: &line)
            }
        }
        line.append(contentsOf: (json ? "}\n" : "\n").utf8)
        sink(line)
    }

    /// Writes all of `bytes` to file descriptor 2, retrying short writes and interruptions; a
    /// closed or broken standard error drops the line.
    @Sendable
    public static func standardError(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
