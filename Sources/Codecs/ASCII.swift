/// The digit helpers every text format here needs, once: hex digits in and out, decimal
/// integers and zero padding, written straight into bytes (or a `String` where one is wanted).
///
/// ```swift
/// ASCII.hexValue(UInt8(ascii: "f"))         // 15
/// ASCII.hexDigits(of: 0x2028, width: 4)      // "2028"
/// ASCII.zeroPadded(7, width: 3)              // "007"
/// ```
public enum ASCII {
    /// The value of one hex digit (`0-9`, `a-f`, `A-F`); nil for any other byte.
    @inlinable
    public static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }

    /// `value` in lower-case hex, at least `width` digits (zero-padded), more when it needs them.
    @inlinable
    public static func appendHexDigits(of value: UInt64, width: Int, to out: inout [UInt8]) {
        var shift = 4 * (max(width, hexDigitCount(value)) - 1)
        while shift >= 64 {
            out.append(UInt8(ascii: "0"))
            shift -= 4
        }
        while shift >= 0 {
            out.append(hexDigit(UInt8(truncatingIfNeeded: value &>> UInt64(shift)) & 0xf))
            shift -= 4
        }
    }

    /// Each of `bytes` as two lower-case hex digits (`[0x0a, 0xff]` → `0aff`): a digest, `bytea`.
    @inlinable
    public static func appendHexDigits(of bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + 2 * bytes.underestimatedCount)
        for byte in bytes {
            out.append(hexDigit(byte &>> 4))
            out.append(hexDigit(byte & 0xf))
        }
    }

    /// `value` in lower-case hex as a `String`, at least `width` digits, written straight into
    /// the string's storage.
    @inlinable
    public static func hexDigits(of value: UInt64, width: Int) -> String {
        let count = max(width, hexDigitCount(value))
        return String(unsafeUninitializedCapacity: count) { buffer in
            var remaining = value
            for index in stride(from: count - 1, through: 0, by: -1) {
                buffer[index] = hexDigit(UInt8(truncatingIfNeeded: remaining) & 0xf)
                remaining >>= 4
            }
            return count
        }
    }

    /// `value`'s decimal digits, after a `-` when it is negative.
    @inlinable
    public static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        appendDigits(value.magnitude, count: decimalDigitCount(value.magnitude), to: &out)
    }

    /// `value`'s decimal text (`String(value)`), preceded by zeros up to `width` characters:
    /// `appendZeroPadded(7, width: 3)` writes `007`. A negative value keeps its sign after
    /// the zeros, as `String` padding would (`00-5`); the callers' values are never negative.
    @inlinable
    public static func appendZeroPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
        let length = decimalDigitCount(value.magnitude) + (value < 0 ? 1 : 0)
        for _ in 0..<max(0, width - length) { out.append(UInt8(ascii: "0")) }
        appendDecimal(value, to: &out)
    }

    /// ``appendZeroPadded(_:width:to:)`` as a `String`: `zeroPadded(2026, width: 4)` is `2026`,
    /// `zeroPadded(5, width: 2)` is `05`. For values that fit an `Int64`.
    @inlinable
    public static func zeroPadded(_ value: some BinaryInteger, width: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(max(width, 20))
        appendZeroPadded(Int64(value), width: width, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    @inlinable
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ nibble &- 10
    }

    /// Significant hex digits of `value` (1 for zero).
    @inlinable
    static func hexDigitCount(_ value: UInt64) -> Int {
        max(1, (64 - value.leadingZeroBitCount + 3) / 4)
    }

    @inlinable
    static func decimalDigitCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        return count
    }

    /// The `count` decimal digits of `value`, most significant first.
    @inlinable
    static func appendDigits(_ value: UInt64, count: Int, to out: inout [UInt8]) {
        let start = out.count
        for _ in 0..<count { out.append(UInt8(ascii: "0")) }
        out.withUnsafeMutableBufferPointer { buffer in
            var rest = value
            for index in stride(from: start + count - 1, through: start, by: -1) {
                buffer[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
                rest /= 10
            }
        }
    }
}
