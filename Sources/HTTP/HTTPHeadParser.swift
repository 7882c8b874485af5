import Codecs

/// Parses one complete request head (request line and header fields, up to and including the
/// empty line) into an ``HTTPRequestHead``, or says precisely why it is malformed.
enum HTTPHeadParser {
    static func parse(_ bytes: ArraySlice<UInt8>) -> Result<HTTPRequestHead, HTTPProtocolError> {
        var lines = HeadLines(bytes: bytes)
        guard let requestLine = lines.next() else { return .failure(.malformed("Missing request line.")) }
        let method: HTTPMethod, target: String, version: HTTPVersion
        switch parseRequestLine(requestLine) {
        case .failure(let error): return .failure(error)
        case .success(let parts): (method, target, version) = parts
        }
        var headers = HTTPHeaders()
        while let line = lines.next() {
            if line.isEmpty { break }
            switch parseField(line) {
            case .failure(let error): return .failure(error)
            case .success(let field): headers.add(field.name, field.value)
            }
        }
        if lines.sawBareCR { return .failure(.malformed("A CR not followed by LF.")) }
        return .success(HTTPRequestHead(method: method, target: target, version: version, headers: headers))
    }

    /// `method SP request-target SP HTTP-version`, single spaces (RFC 9112 §3).
    private static func parseRequestLine(_ line: ArraySlice<UInt8>) -> Result<(HTTPMethod, String, HTTPVersion), HTTPProtocolError> {
        // Exactly two spaces; found in place rather than split into an array (no allocation).
        guard let first = line.firstIndex(of: .space), let second = line[(first + 1)...].firstIndex(of: .space),
              !line[(second + 1)...].contains(.space)
        else {
            return .failure(.malformed("Malformed request line."))
        }
        let method = line[..<first], target = line[(first + 1)..<second], version = line[(second + 1)...]
        guard !method.isEmpty, method.allSatisfy(isTokenCharacter) else {
            return .failure(.malformed("Malformed method."))
        }
        // Visible ASCII only: percent-encoding carries everything else.
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            return .failure(.malformed("Malformed request target."))
        }
        guard version.count == 8, version.starts(with: "HTTP/".utf8),
              let major = digit(version[version.startIndex + 5]), version[version.startIndex + 6] == UInt8(ascii: "."),
              let minor = digit(version[version.startIndex + 7])
        else {
            return .failure(.malformed("Malformed HTTP version."))
        }
        guard major == 1, minor <= 1 else { return .failure(.versionNotSupported) }
        // The usual methods are constants: no string is decoded for them.
        let name = HTTPMethod.known(method) ?? HTTPMethod(rawValue: String(decoding: method, as: UTF8.self))
        return .success((name, String(decoding: target, as: UTF8.self), HTTPVersion(major: major, minor: minor)))
    }

    /// `field-name ":" OWS field-value OWS` (RFC 9112 §5).
    private static func parseField(_ line: ArraySlice<UInt8>) -> Result<(name: String, value: String), HTTPProtocolError> {
        if line.first == .space || line.first == .tab {
            return .failure(.malformed("Obsolete line folding is not accepted."))
        }
        guard let colon = line.firstIndex(of: .colon) else { return .failure(.malformed("Header field without a colon.")) }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
            return .failure(.malformed("Malformed header field name."))
        }
        var value = line[(colon + 1)...]
        value = value.trimming(.spacesAndTabs)
        // Field values: visible characters, spaces, tabs and obs-text; never CR, LF or NUL.
        guard value.allSatisfy({ $0 >= 0x20 && $0 != 0x7f || $0 == .tab }) else {
            return .failure(.malformed("Control character in a header field value."))
        }
        return .success((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    /// tchar (RFC 9110 §5.6.2).
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func digit(_ byte: UInt8) -> Int? {
        byte &- UInt8(ascii: "0") < 10 ? Int(byte &- UInt8(ascii: "0")) : nil
    }
}

/// Lines of a head, each without its CRLF or bare LF terminator.
private struct HeadLines {
    let bytes: ArraySlice<UInt8>
    var position: Int
    /// A CR inside a line (not right before its LF) was seen.
    var sawBareCR = false

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    mutating func next() -> ArraySlice<UInt8>? {
        guard position < bytes.endIndex else { return nil }
        guard let lf = bytes[position...].firstIndex(of: .lf) else {
            let rest = bytes[position...]
            position = bytes.endIndex
            return rest
        }
        var end = lf
        if end > position, bytes[end - 1] == .cr { end -= 1 }
        let line = bytes[position..<end]
        if line.contains(.cr) { sawBareCR = true }
        position = lf + 1
        return line
    }
}
