import Synchronization

/// The `X-Request-Id` of a request: the client's, when it is a plain token of 1 to 128
/// characters (letters, digits, `-`, `_`, `.`, `:`), so nothing odd reaches logs or
/// headers; otherwise a new 128-bit hex id (a random per-process prefix and a counter).
public enum RequestID {
    public static func from(_ header: String?) -> String {
        if let header, !header.isEmpty, header.utf8.count <= 128, header.utf8.allSatisfy(isAllowed) {
            return header
        }
        return generate()
    }

    /// 64 random bits drawn once per process, then a counter: unique within the process and,
    /// with overwhelming likelihood, across processes, without a system call per request.
    public static func generate() -> String {
        processPrefix + hex(counter.add(1, ordering: .relaxed).newValue)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static let processPrefix: String = {
        var generator = SystemRandomNumberGenerator()
        return hex(generator.next())
    }()

    private static let counter = Atomic<UInt64>(0)

    /// 16 lower-case hex digits, written straight into the string's storage.
    private static func hex(_ value: UInt64) -> String {
        String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 {
                buffer[index] = hexDigits[Int((value >> UInt64(60 - 4 * index)) & 0xf)]
            }
            return 16
        }
    }

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
