import CCrypto

/// SHA-256 from OpenSSL's libcrypto (`EVP_Digest` with `EVP_sha256`), for hashing API keys
/// before they are looked up: the key itself never leaves the process, not even to
/// PostgreSQL, whose `sha256()` gives the same digest (tested).
public enum SHA256 {
    /// Bytes in a digest.
    public static let digestLength = 32

    /// The 32-byte digest of `message`.
    public static func hash<Bytes: Collection<UInt8>>(_ message: Bytes) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: digestLength)
        let hashed = message.withContiguousStorageIfAvailable { hash($0, into: &digest) }
            ?? Array(message).withUnsafeBufferPointer { hash($0, into: &digest) }
        // EVP_Digest fails only when libcrypto cannot allocate or the algorithm is missing:
        // a process that cannot hash cannot check a key, so it must not go on.
        precondition(hashed, "libcrypto's EVP_Digest(SHA-256) failed")
        return digest
    }

    private static func hash(_ message: UnsafeBufferPointer<UInt8>, into digest: inout [UInt8]) -> Bool {
        var length: UInt32 = 0
        return digest.withUnsafeMutableBufferPointer { output in
            EVP_Digest(message.baseAddress, message.count, output.baseAddress, &length, EVP_sha256(), nil) == 1
        } && length == UInt32(digestLength)
    }
}
