import Glibc
import Logging

/// A swift-log handler that writes one line per record to standard output, as logfmt
/// (`time=… level=info msg=request method=GET …`) or JSON, metadata keys in sorted order after
/// `time`, `level` and `msg`. One `write` per line, so lines from several threads never mix.
public struct LineLogHandler: LogHandler {
    /// How a line is written.
    public enum Format: String, Sendable, CaseIterable {
        case logfmt
        case json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public let format: Format
    private let write: @Sendable (String) -> Void

    /// Writes to standard output, or to `write` (tests capture lines with it).
    public init(format: Format, write: @escaping @Sendable (String) -> Void = LineLogHandler.standardOutput) {
        self.format = format
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let time = Self.timestamp()
        let pairs = [("time", time), ("level", event.level.rawValue), ("msg", "\(event.message)")]
            + fields.keys.sorted().map { ($0, "\(fields[$0]!)") }
        switch format {
        case .logfmt:
            write(pairs.map { "\($0.0)=\(Self.logfmtValue($0.1))" }.joined(separator: " ") + "\n")
        case .json:
            write("{" + pairs.map { JSONText.quoted($0.0) + ":" + JSONText.quoted($0.1) }.joined(separator: ",") + "}\n")
        }
    }

    @Sendable
    public static func standardOutput(_ line: String) {
        var bytes = Array(line.utf8)
        _ = Glibc.write(1, &bytes, bytes.count)
    }

    /// RFC 3339 UTC with milliseconds.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }

    /// Bare when it is a plain token, else quoted with `"` and `\` escaped.
    static func logfmtValue(_ value: String) -> String {
        if !value.isEmpty, value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f && $0 != "\"" && $0 != "=" && $0 != "\\" }) {
            return value
        }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

}
