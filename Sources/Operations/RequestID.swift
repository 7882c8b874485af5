import Codecs
import Synchronization

/// The `X-Request-Id` of a request: the client's, when it is a plain token of 1 to 128
/// characters (letters, digits, `-`, `_`, `.`, `:`), so nothing odd reaches logs or
/// headers; otherwise a new 128-bit hex id (a random per-process prefix and a number).
public enum RequestID {
    public static func from(_ header: String?) -> String {
        from(header, number: 0)
    }

    /// The id of the request the server numbered `number` (`HTTPRequest.number`): the same
    /// whoever asks, so that the handler and the server's own `503` for that request agree.
    /// A number of 0 (a request the server did not number) gets a fresh id.
    public static func from(_ header: String?, number: UInt64) -> String {
        if let header, !header.isEmpty, header.utf8.count <= 128, header.utf8.allSatisfy(isAllowed) {
            return header
        }
        return number == 0 ? generate() : processPrefix + ASCII.hexDigits(of: number & ~generatedBit, width: 16)
    }

    /// 64 random bits drawn once per process, then a counter: unique within the process and,
    /// with overwhelming likelihood, across processes, without a system call per request.
    /// Its top bit is set, so it never equals the id of a numbered request.
    public static func generate() -> String {
        processPrefix + ASCII.hexDigits(of: counter.add(1, ordering: .relaxed).newValue | generatedBit, width: 16)
    }

    private static let generatedBit: UInt64 = 1 << 63

    private static let processPrefix: String = {
        var generator = SystemRandomNumberGenerator()
        return ASCII.hexDigits(of: generator.next(), width: 16)
    }()

    private static let counter = Atomic<UInt64>(0)

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: ":"):
            true
        default:
            false
        }
    }
}
