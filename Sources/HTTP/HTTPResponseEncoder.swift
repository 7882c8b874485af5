/// Serialises a response's head (status line and header fields); the body goes after it
/// as it is (``HTTPOutput`` sends both in one system call without copying the body).
enum HTTPResponseEncoder {
    /// Head and body in one buffer (for a response written once, without waiting).
    /// - Parameters:
    ///   - includeBody: false for `HEAD` and `1xx`: the head (with the body's length) only.
    ///   - connection: the `Connection` header value to send, if any (`close`, `keep-alive`).
    static func encode(_ response: HTTPResponse, date: String, includeBody: Bool, connection: String?) -> [UInt8] {
        var bytes = encodeHead(response, date: date, connection: connection, reserving: includeBody ? response.body.count : 0)
        if includeBody { bytes.append(contentsOf: response.body) }
        return bytes
    }

    /// How the head says where the body ends.
    enum BodyLength {
        /// `Content-Length` of the response's body.
        case content
        /// `Transfer-Encoding: chunked`: a streamed body (HTTP/1.1).
        case chunked
        /// Neither: a streamed body to an HTTP/1.0 client, ended by closing the connection.
        case untilClose
    }

    /// The head alone, announcing the body's length whether or not the body follows.
    static func encodeHead(_ response: HTTPResponse, date: String, connection: String?, reserving extra: Int = 0,
                           length: BodyLength = .content) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160 + response.headers.count * 40 + extra)
        append("HTTP/1.1 \(response.status.code) \(response.status.reasonPhrase)\r\n", to: &bytes)
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
        switch length {
        case .content: append("Content-Length: \(response.body.count)\r\n", to: &bytes)
        case .chunked: append("Transfer-Encoding: chunked\r\n", to: &bytes)
        case .untilClose: break
        }
        append("Date: \(date)\r\n", to: &bytes)
        if let connection { append("Connection: \(connection)\r\n", to: &bytes) }
        append("\r\n", to: &bytes)
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
