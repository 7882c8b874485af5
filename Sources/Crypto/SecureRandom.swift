import CCrypto

/// A random number generator drawing from OpenSSL's CSPRNG (`RAND_bytes`): for secrets such as
/// API keys. Use it where `SystemRandomNumberGenerator` would do, e.g.
/// `generator.next(upperBound: 62)` (which rejects biased draws).
public struct SecureRandom: RandomNumberGenerator, Sendable {
    public init() {}

    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        let filled = withUnsafeMutableBytes(of: &value) { RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8) }
        // RAND_bytes fails only when the generator cannot be seeded: no secret may come from it then.
        precondition(filled == 1, "libcrypto's RAND_bytes failed")
        return value
    }

    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var generator = SecureRandom()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count { withUnsafeBytes(of: generator.next()) { bytes.append(contentsOf: $0) } }
        return Array(bytes.prefix(count))
    }
}
