import CCrypto

/// HMAC-SHA256 (RFC 2104) from OpenSSL's libcrypto (`EVP_Q_mac`, the one-shot `EVP_MAC` call),
/// for v2's webhook signatures: `v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>`.
///
/// ```swift
/// let code = HMACSHA256.authenticationCode(for: signedContent.utf8, key: secret)
/// let genuine = HMACSHA256.isValid(receivedCode, for: signedContent.utf8, key: secret)
/// ```
public enum HMACSHA256 {
    /// Bytes in an authentication code.
    public static let codeLength = 32

    /// The 32-byte authentication code of `message` under `key` (a key of any length, empty too).
    public static func authenticationCode<Message: Collection<UInt8>, Key: Collection<UInt8>>(
        for message: Message, key: Key
    ) -> [UInt8] {
        var code = [UInt8](repeating: 0, count: codeLength)
        // A pointer even for an empty key: libcrypto reads a NULL key as "keep the previous one".
        let keyBytes = Array(key) + [0]
        let computed = keyBytes.withUnsafeBufferPointer { key in
            message.withContiguousStorageIfAvailable { mac($0, key: key, into: &code) }
                ?? Array(message).withUnsafeBufferPointer { mac($0, key: key, into: &code) }
        }
        // EVP_Q_mac fails only when libcrypto cannot allocate or lacks HMAC or SHA-256: a process
        // that cannot sign must not go on as if it had.
        precondition(computed, "libcrypto's EVP_Q_mac(HMAC, SHA-256) failed")
        return code
    }

    /// Whether `code` is the authentication code of `message` under `key`, compared in
    /// constant time (``ConstantTime/isEqual(_:_:)``) so that a forger learns nothing from
    /// how long a wrong guess took to refuse.
    public static func isValid<Code: Collection<UInt8>, Message: Collection<UInt8>, Key: Collection<UInt8>>(
        _ code: Code, for message: Message, key: Key
    ) -> Bool {
        ConstantTime.isEqual(code, authenticationCode(for: message, key: key))
    }

    /// `key` holds the key's bytes and one spare byte past them, never read.
    private static func mac(_ message: UnsafeBufferPointer<UInt8>, key: UnsafeBufferPointer<UInt8>,
                            into code: inout [UInt8]) -> Bool {
        var length = 0
        let done = code.withUnsafeMutableBufferPointer { output in
            EVP_Q_mac(nil, "HMAC", nil, "SHA256", nil, key.baseAddress, key.count - 1,
                      message.baseAddress, message.count, output.baseAddress, output.count, &length) != nil
        }
        return done && length == codeLength
    }
}
