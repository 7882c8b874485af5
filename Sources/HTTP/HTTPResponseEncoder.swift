/// Serialises a response head and body into one buffer, so each response is one `write`.
enum HTTPResponseEncoder {
    /// - Parameters:
    ///   - includeBody: false for `HEAD` and `1xx`: the head (with the body's length) only.
    ///   - connection: the `Connection` header value to send, if any (`close`, `keep-alive`).
    static func encode(_ response: HTTPResponse, date: String, includeBody: Bool, connection: String?) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160 + response.headers.count * 40 + (includeBody ? response.body.count : 0))
        append("HTTP/1.1 \(response.status) \(HTTPReasonPhrase.phrase(for: response.status))\r\n", to: &bytes)
        for (name, value) in response.headers where isSafe(name: name, value: value) {
            if HTTPHeaders.equalsIgnoringCase(name, "Content-Length") || HTTPHeaders.equalsIgnoringCase(name, "Connection")
                || HTTPHeaders.equalsIgnoringCase(name, "Date") || HTTPHeaders.equalsIgnoringCase(name, "Transfer-Encoding") {
                continue  // the server owns the framing
            }
            append(name, to: &bytes)
            append(": ", to: &bytes)
            append(value, to: &bytes)
            append("\r\n", to: &bytes)
        }
        append("Content-Length: \(response.body.count)\r\nDate: \(date)\r\n", to: &bytes)
        if let connection { append("Connection: \(connection)\r\n", to: &bytes) }
        append("\r\n", to: &bytes)
        if includeBody { bytes.append(contentsOf: response.body) }
        return bytes
    }

    /// A field a handler set is sent only if its name is a token and its value has no control
    /// characters: whatever a handler echoes, CR, LF and NUL never reach the wire.
    static func isSafe(name: String, value: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy(HTTPHeadParser.isTokenCharacter)
            && value.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7f || $0 == .tab }
    }

    private static func append(_ text: String, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: text.utf8)
    }
}
