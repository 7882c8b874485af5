/// A webhook endpoint's URL as the API accepts it (API.md §11): `http` or `https`, a host (a
/// name, an IPv4 address, or an IPv6 address in brackets), an optional port, then any path and
/// query; no user name or password, no white space or control characters, at most 2,048
/// bytes. Whether its host may be called is ``AddressPolicy``'s question.
public struct WebhookURL: Sendable, Equatable {
    public static let maxLength = 2048

    public let text: String
    public let isHTTPS: Bool
    /// The host without brackets: `example.com`, `10.0.0.1`, `::1`.
    public let host: String
    public let port: Int

    public init(_ text: String) throws(APIError) {
        func refuse(_ why: String) -> APIError { APIError.invalid("url", "url \(why).") }
        guard !text.isEmpty, text.utf8.count <= Self.maxLength,
              text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw refuse("must be an http or https URL of at most 2048 printable ASCII characters")
        }
        let lowered = text.lowercased()
        if lowered.hasPrefix("https://") {
            isHTTPS = true
        } else if lowered.hasPrefix("http://") {
            isHTTPS = false
        } else {
            throw refuse("must start with http:// or https://")
        }
        let rest = text.dropFirst(isHTTPS ? 8 : 7)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { throw refuse("must not carry a user name or password") }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw refuse("has an unclosed [") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw refuse("has text after its IPv6 address") }
                portText = after.dropFirst()
            }
            guard ContactValidation.isIPAddress(String(host)), host.contains(":") else { throw refuse("has a malformed IPv6 address") }
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            portText = parts.count > 1 ? parts[1] : nil
            guard !host.isEmpty, host.utf8.count <= 253,
                  host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else {
                throw refuse("must name a host")
            }
        }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port), portText.allSatisfy(\.isNumber) else {
                throw refuse("has a port that is not 1 to 65535")
            }
            self.port = port
        } else {
            port = isHTTPS ? 443 : 80
        }
        self.text = (isHTTPS ? "https://" : "http://") + rest  // the scheme in lower case, as stored
        self.host = String(host).lowercased()
    }
}
