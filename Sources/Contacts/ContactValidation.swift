import Glibc

/// How a request gives one contact field on `PUT`: not at all (leave it), empty (clear it), or
/// a value (set it). On the other methods an empty value counts as absent.
public enum FieldInput: Sendable, Equatable {
    case absent
    case cleared
    case value(String)

    var isGiven: Bool { self != .absent }
    var value: String? {
        if case .value(let value) = self { return value }
        return nil
    }
}

/// The validation table of the contract (API.md §2), one function per parameter. Each returns
/// the value in its stored form (trimmed; phone as digits) or throws a `400` naming the
/// parameter. An absent or empty parameter is nil.
public enum ContactValidation {
    public static let nameMaxLength = 100
    public static let emailMaxLength = 254
    public static let emailLocalMaxLength = 64

    /// `id`, `after` and the listing: a decimal integer in `range`.
    public static func integer(_ name: String, _ text: String?, in range: ClosedRange<Int64>) throws(APIError) -> Int64? {
        guard let text, !text.isEmpty else { return nil }
        guard text.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else {
            throw APIError.invalid(name, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        guard let value = Int64(text), range.contains(value) else {
            throw APIError.invalid(name, "\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return value
    }

    /// A flag such as `erase`: `true` or `false` exactly; empty or absent is nil.
    public static func boolean(_ name: String, _ text: String?) throws(APIError) -> Bool? {
        switch text {
        case nil, "": return nil
        case "true": return true
        case "false": return false
        default: throw APIError.invalid(name, "\(name) must be true or false.")
        }
    }

    public static func contactID(_ text: String?, name: String = "id") throws(APIError) -> Int64? {
        try integer(name, text, in: 1...Int64.max)
    }

    /// `first_name`, `last_name` (and the `name` search term): at most 100 characters, no
    /// control characters. Characters are Unicode scalars, as PostgreSQL's `char_length` counts.
    public static func personName(_ name: String, _ text: String?, maxLength: Int = nameMaxLength) throws(APIError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard text.unicodeScalars.count <= maxLength else {
            throw APIError.invalid(name, "\(name) must be at most \(maxLength) characters.")
        }
        guard !text.unicodeScalars.contains(where: isControl) else {
            throw APIError.invalid(name, "\(name) must not contain control characters.")
        }
        return text
    }

    /// One `@`; a local part of 1 to 64 characters; a domain with at least one dot, not at
    /// either end; at most 254 characters; no white space or control characters.
    public static func email(_ text: String?) throws(APIError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        let invalid = APIError.invalid("email", "email must be an address like name@example.com.")
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            // ASCII (nearly every address): the same rules on bytes, without Unicode property lookups.
            let bytes = Array(text.utf8)
            guard bytes.count <= emailMaxLength, !bytes.contains(where: { $0 <= 0x20 || $0 == 0x7f }),
                  bytes.filter({ $0 == UInt8(ascii: "@") }).count == 1, let at = bytes.firstIndex(of: UInt8(ascii: "@"))
            else { throw invalid }
            let local = bytes[..<at], domain = bytes[(at + 1)...]
            guard !local.isEmpty, local.count <= emailLocalMaxLength, domain.contains(UInt8(ascii: ".")),
                  domain.first != UInt8(ascii: "."), domain.last != UInt8(ascii: ".")
            else { throw invalid }
            return text
        }
        guard text.unicodeScalars.count <= emailMaxLength,
              !text.unicodeScalars.contains(where: { isControl($0) || $0.properties.isWhitespace })
        else { throw invalid }
        // Code points, not characters: a combining mark after "@" or "." must not hide it.
        let scalars = Array(text.unicodeScalars)
        guard scalars.filter({ $0 == "@" }).count == 1, let at = scalars.firstIndex(of: "@") else { throw invalid }
        let local = scalars[..<at], domain = scalars[(at + 1)...]
        guard !local.isEmpty, local.count <= emailLocalMaxLength,
              domain.contains("."), domain.first != ".", domain.last != "."
        else { throw invalid }
        return text
    }

    /// Digits with an optional leading `+` and the separators space `-` `.` `(` `)`; 7 to 15
    /// digits. Returns the digits alone: `+1 (555) 123-4567` → `15551234567`.
    public static func phone(_ text: String?) throws(APIError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        var digits = ""
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            switch scalar {
            case "0"..."9": digits.unicodeScalars.append(scalar)  // ASCII digits only, code point by code point
            case " ", "-", ".", "(", ")": continue
            case "+" where offset == 0: continue
            default: throw APIError.invalid("phone", "phone may contain only digits, a leading +, spaces and - . ( ).")
            }
        }
        guard (7...15).contains(digits.count) else {
            throw APIError.invalid("phone", "phone must have 7 to 15 digits.")
        }
        return digits
    }

    /// An IPv4 or IPv6 address; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is stored as
    /// its IPv4 form, as peers' addresses are.
    public static func ipAddress(_ text: String?, name: String = "ip_address") throws(APIError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard isIPAddress(text) else { throw APIError.invalid(name, "\(name) must be an IPv4 or IPv6 address.") }
        let lowered = text.lowercased()
        if lowered.hasPrefix("::ffff:"), case let mapped = String(text.dropFirst(7)), isIPv4(mapped) { return mapped }
        return text
    }

    static func isIPAddress(_ text: String) -> Bool {
        // A C string ends at NUL: "1.2.3.4\0junk" must not pass as 1.2.3.4.
        guard !text.utf8.contains(0) else { return false }
        var v6 = in6_addr()
        return isIPv4(text) || inet_pton(AF_INET6, text, &v6) == 1
    }

    private static func isIPv4(_ text: String) -> Bool {
        var v4 = in_addr()
        return !text.utf8.contains(0) && inet_pton(AF_INET, text, &v4) == 1
    }

    /// A field on `PUT`: absent, cleared (given empty) or a valid value.
    public static func field(_ parameters: RequestParameters, _ name: String,
                             _ validate: (String?) throws(APIError) -> String?) throws(APIError) -> FieldInput {
        guard let text = parameters[name] else { return .absent }
        guard let value = try validate(text) else { return .cleared }
        return .value(value)
    }

    /// C0, DEL and C1 controls (category Cc), and the line and paragraph separators U+2028 and
    /// U+2029, which glibc's UTF-8 locales (and so PostgreSQL's `[[:cntrl:]]`) also count as
    /// control characters: the SQL checks must never refuse what this accepts.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
