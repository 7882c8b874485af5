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

    public static func contactID(_ text: String?, name: String = "id") throws(APIError) -> Int64? {
        try integer(name, text, in: 1...Int64.max)
    }

    /// `first_name`, `last_name` (and the `name` search term): at most 100 characters, no
    /// control characters. Characters are Unicode scalars, as PostgreSQL's `char_length` counts.
    public static func personName(_ name: String, _ text: String?) throws(APIError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard text.unicodeScalars.count <= nameMaxLength else {
            throw APIError.invalid(name, "\(name) must be at most \(nameMaxLength) characters.")
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
        guard text.unicodeScalars.count <= emailMaxLength,
              !text.unicodeScalars.contains(where: { isControl($0) || $0.properties.isWhitespace })
        else { throw invalid }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw invalid }
        let local = parts[0], domain = parts[1]
        guard !local.isEmpty, local.unicodeScalars.count <= emailLocalMaxLength,
              domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix(".")
        else { throw invalid }
        return text
    }

    /// Digits with an optional leading `+` and the separators space `-` `.` `(` `)`; 7 to 15
    /// digits. Returns the digits alone: `+1 (555) 123-4567` → `15551234567`.
    public static func phone(_ text: String?) throws(APIError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        var digits = ""
        for (offset, character) in text.enumerated() {
            switch character {
            case "0"..."9": digits.append(character)
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

    /// An IPv4 or IPv6 address.
    public static func ipAddress(_ text: String?, name: String = "ip_address") throws(APIError) -> String? {
        guard let text, !text.isEmpty else { return nil }
        guard isIPAddress(text) else { throw APIError.invalid(name, "\(name) must be an IPv4 or IPv6 address.") }
        return text
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// A field on `PUT`: absent, cleared (given empty) or a valid value.
    public static func field(_ parameters: RequestParameters, _ name: String,
                             _ validate: (String?) throws(APIError) -> String?) throws(APIError) -> FieldInput {
        guard let text = parameters[name] else { return .absent }
        guard let value = try validate(text) else { return .cleared }
        return .value(value)
    }

    /// Unicode general category Cc: C0, DEL and C1 controls.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control
    }
}
