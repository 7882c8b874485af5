import CCrypto

/// Standard base64 (RFC 4648 §4, with `=` padding) from OpenSSL's `EVP_EncodeBlock`: webhook
/// secrets (`whsec_…`) and signatures (API.md §11).
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
}
