import CCrypto

/// Standard base64 (RFC 4648 §4, with `=` padding) from OpenSSL's `EVP_EncodeBlock` and
/// `EVP_DecodeBlock`: webhook secrets (`whsec_…`) and signatures (API.md §11).
public enum Base64 {
    public static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        guard !input.isEmpty else { return "" }
        var output = [UInt8](repeating: 0, count: (input.count + 2) / 3 * 4 + 1)
        let written = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                EVP_EncodeBlock(target.baseAddress, source.baseAddress, Int32(source.count))
            }
        }
        return String(decoding: output[0..<Int(written)], as: UTF8.self)
    }

    /// The bytes of padded base64 `text`; nil when it is not base64 (or not a whole number of
    /// 4-character groups).
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        guard !input.isEmpty else { return [] }
        var output = [UInt8](repeating: 0, count: input.count / 4 * 3)
        let written = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                EVP_DecodeBlock(target.baseAddress, source.baseAddress, Int32(source.count))
            }
        }
        guard written >= 0 else { return nil }
        // EVP_DecodeBlock counts the padding's zero bytes too.
        let padding = input.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        guard padding <= 2 else { return nil }
        return Array(output[0..<(Int(written) - padding)])
    }
}
