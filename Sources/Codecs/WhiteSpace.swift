/// Which white space to trim: each format has its own, so the set is always named.
///
/// ```swift
/// " \tchunked ".trimming(.spacesAndTabs)                 // "chunked"
/// "\u{00A0}Ann\u{3000}".trimming(.unicode)              // "Ann"
/// "FATAL: no such role\n".trimmingEnd(.newlinesAndSpaces)  // "FATAL: no such role"
/// ```
public enum WhiteSpace: Sendable {
    /// Spaces and horizontal tabs: HTTP's optional white space (RFC 9110 §5.6.3).
    case spacesAndTabs
    /// Line breaks (the scalars of `Character.isNewline`: LF, VT, FF, CR, NEL, U+2028,
    /// U+2029) and spaces: what ends libpq's messages.
    case newlinesAndSpaces
    /// Unicode's White_Space property (NBSP, ideographic space, …): what people type around
    /// values.
    case unicode

    @inlinable
    public func contains(_ scalar: Unicode.Scalar) -> Bool {
        switch self {
        case .spacesAndTabs: scalar == " " || scalar == "\t"
        case .newlinesAndSpaces:
            scalar == " " || (0x0A...0x0D).contains(scalar.value) || scalar == "\u{85}"
                || scalar == "\u{2028}" || scalar == "\u{2029}"
        case .unicode: scalar.properties.isWhitespace
        }
    }

    /// Whether the set holds the ASCII character `byte` (never a byte of a longer UTF-8
    /// sequence: those are not characters).
    @inlinable
    public func contains(_ byte: UInt8) -> Bool {
        byte < 0x80 && contains(Unicode.Scalar(byte))
    }

    /// A printable ASCII character other than space: in no set, and never part of a longer
    /// character, so text that starts and ends with one has nothing to trim.
    @inlinable
    static func isPlainASCII(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7f
    }
}

extension StringProtocol {
    /// Without the leading and trailing white space of `set`.
    @inlinable
    public func trimming(_ set: WhiteSpace) -> Substring {
        let text = Substring(self)
        // Most values start and end with a letter or digit: nothing to look at.
        if let first = text.utf8.first, let last = text.utf8.last, WhiteSpace.isPlainASCII(first), WhiteSpace.isPlainASCII(last) {
            return text
        }
        var scalars = text.unicodeScalars[...]
        while let first = scalars.first, set.contains(first) { scalars = scalars.dropFirst() }
        while let last = scalars.last, set.contains(last) { scalars = scalars.dropLast() }
        return Substring(scalars)
    }

    /// Without the trailing white space of `set`.
    @inlinable
    public func trimmingEnd(_ set: WhiteSpace) -> Substring {
        var scalars = Substring(self).unicodeScalars[...]
        while let last = scalars.last, set.contains(last) { scalars = scalars.dropLast() }
        return Substring(scalars)
    }
}

extension BidirectionalCollection where Element == UInt8 {
    /// Without the leading and trailing ASCII white space of `set` (bytes of longer UTF-8
    /// sequences are never trimmed).
    @inlinable
    public func trimming(_ set: WhiteSpace) -> SubSequence {
        var bytes = self[...]
        while let first = bytes.first, set.contains(first) { bytes = bytes.dropFirst() }
        while let last = bytes.last, set.contains(last) { bytes = bytes.dropLast() }
        return bytes
    }
}
