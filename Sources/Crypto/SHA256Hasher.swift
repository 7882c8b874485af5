import CCrypto

/// SHA-256 over input that arrives in pieces (`EVP_DigestInit_ex`/`Update`/`Final_ex`), for
/// fingerprinting a streamed body without holding it: ``update(_:)`` each piece, then
/// ``finalize()`` once. Not shared between tasks.
public final class SHA256Hasher {
    private let context: OpaquePointer

    public init() {
        // Allocation or initialisation fails only when libcrypto itself is broken.
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            preconditionFailure("libcrypto could not start a SHA-256 digest")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    /// Adds `bytes` to the digest.
    public func update(_ bytes: [UInt8]) {
        let updated = bytes.withUnsafeBytes { EVP_DigestUpdate(context, $0.baseAddress, $0.count) == 1 }
        precondition(updated, "libcrypto's EVP_DigestUpdate failed")
    }

    /// The digest of everything added (32 bytes); the hasher is spent afterwards.
    public func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.digestLength)
        var length: UInt32 = 0
        let finished = digest.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context, $0.baseAddress, &length) == 1 }
        precondition(finished && length == UInt32(SHA256.digestLength), "libcrypto's EVP_DigestFinal_ex failed")
        return digest
    }
}
