import Codecs

/// Text helpers for log lines: the opening both logs share, logfmt value quoting and numbers.
enum LogText {
    /// `time=… level=…` in logfmt.
    static func appendLogfmtOpening(time: LogClock.Time, level: String, to out: inout [UInt8]) {
        out.append(contentsOf: "time=".utf8)
        time.append(to: &out)
        out.append(contentsOf: " level=".utf8)
        out.append(contentsOf: level.utf8)
    }

    /// `{"time":"…","level":"…"` in JSON: the object is left open for the line's fields.
    static func beginJSON(_ json: inout JSONWriter, time: LogClock.Time, level: String) {
        json.beginObject()
        json.key("time")
        json.string(unescaped: { time.append(to: &$0) })
        json.key("level")
        json.string(level)
    }

    /// A non-negative integer's decimal digits (negative values are written as 0).
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        ASCII.appendDecimal(Int64(max(0, value)), to: &out)
    }

    /// Milliseconds with three decimals (`12.345`).
    static func appendMilliseconds(_ value: Double, to out: inout [UInt8]) {
        let thousandths = value.isFinite ? Int((max(0, value) * 1000).rounded()) : 0
        appendDecimal(thousandths / 1000, to: &out)
        out.append(UInt8(ascii: "."))
        ASCII.appendZeroPadded(Int64(thousandths % 1000), width: 3, to: &out)
    }

    /// Bare when `value` is a plain printable ASCII token, else quoted with `"`, `\` and control
    /// characters escaped (so a hostile value can never start a new line or field).
    static func appendLogfmtValue(_ value: String, to out: inout [UInt8]) {
        let utf8 = value.utf8
        func isBare(_ byte: UInt8) -> Bool {
            byte > 0x20 && byte < 0x7f && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "\\")
        }
        // On the string's contiguous bytes when it has them (a native string): a tight loop.
        let bare = utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isBare) } ?? utf8.allSatisfy(isBare)
        if !utf8.isEmpty, bare {
            out.append(contentsOf: utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: #"\""#.utf8)
            case "\\": out.append(contentsOf: #"\\"#.utf8)
            case "\n": out.append(contentsOf: #"\n"#.utf8)
            case _ where scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029:
                out.append(contentsOf: #"\u{"#.utf8)
                ASCII.appendHexDigits(of: UInt64(scalar.value), width: 1, to: &out)
                out.append(UInt8(ascii: "}"))
            default: out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
