/// Text helpers for log lines: logfmt value quoting and fixed-width numbers.
enum LogText {
    /// `value` zero-padded to `width` digits.
    static func padded(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// A non-negative integer's decimal digits (negative values are written as 0).
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        var value = max(0, value)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            out.append(contentsOf: buffer[start...])
        }
    }

    /// Milliseconds with three decimals (`12.345`).
    static func appendMilliseconds(_ value: Double, to out: inout [UInt8]) {
        let thousandths = value.isFinite ? Int((max(0, value) * 1000).rounded()) : 0
        appendDecimal(thousandths / 1000, to: &out)
        out.append(UInt8(ascii: "."))
        let fraction = thousandths % 1000
        out.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        out.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// Bare when `value` is a plain printable ASCII token, else quoted with `"`, `\` and control
    /// characters escaped (so a hostile value can never start a new line or field).
    static func appendLogfmtValue(_ value: String, to out: inout [UInt8]) {
        let utf8 = value.utf8
        if !utf8.isEmpty, utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=") && $0 != UInt8(ascii: "\\") }) {
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
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".utf8)
            default: out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
