/// A POST for ``OutboundHTTPClient``: the URL, header lines, body and overall timeout, and
/// optionally the addresses to connect to (`"host:port:address"`, libcurl's `CURLOPT_RESOLVE`).
public struct OutboundRequest: Sendable {
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    public var timeout: Duration
    public var pinnedAddresses: [String]

    public init(url: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Duration = .seconds(15),
                pinnedAddresses: [String] = []) {
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.pinnedAddresses = pinnedAddresses
    }
}

/// The receiver's answer: its status, the start of its body, its `Retry-After` if any.
public struct OutboundResponse: Sendable, Equatable {
    public let status: Int
    public let body: [UInt8]
    public let retryAfter: String?

    public init(status: Int, body: [UInt8], retryAfter: String?) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }
}

/// No answer: libcurl's error code (`CURLcode`) and message; `isTimeout` for the overall timeout.
public struct OutboundError: Error, Sendable, CustomStringConvertible {
    public let code: Int
    public let message: String

    /// `CURLE_OPERATION_TIMEDOUT`.
    public var isTimeout: Bool { code == 28 }

    /// `CURLE_ABORTED_BY_CALLBACK`: ended by ``OutboundHTTPClient/shutdown()``.
    public var isAborted: Bool { code == 42 }

    public var description: String { "libcurl error \(code): \(message)" }
}
