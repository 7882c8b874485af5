import Synchronization

/// The protocol version of a request: HTTP/1.0 or HTTP/1.1.
public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// The request line and header fields of a request, as parsed (RFC 9112 §3, §5).
public struct HTTPRequestHead: Sendable {
    /// The method, case-sensitive as RFC 9110 §9.1 says (`GET`, not `get`).
    public let method: HTTPMethod
    /// The request target as sent, e.g. `/crm/12?email=a%40b.c`.
    public let target: String
    public let version: HTTPVersion
    public let headers: HTTPHeaders

    public init(method: HTTPMethod, target: String, version: HTTPVersion, headers: HTTPHeaders) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The path part of the target, before any `?`.
    public var path: Substring {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target[...] }
        return target[..<mark]
    }

    /// The query part of the target, after the first `?` (still percent-encoded), or nil.
    public var query: Substring? {
        guard let mark = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        return target[target.utf8.index(after: mark)...]
    }

    /// Whether the connection stays open after the response (RFC 9112 §9.3): HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool {
        if version == .http1_1 { return !headers.listContains("Connection", token: "close") }
        return headers.listContains("Connection", token: "keep-alive")
    }

    /// The client sent `Expect: 100-continue` and waits for a go-ahead before the body.
    public var expectsContinue: Bool {
        headers.listContains("Expect", token: "100-continue")
    }
}

/// A complete request, with its body read and de-chunked, handed to the application.
public struct HTTPRequest: Sendable {
    public let head: HTTPRequestHead
    /// The body, read whole; empty when it is streamed (``bodyStream``).
    public let body: [UInt8]
    /// The body as it arrives, for a request whose body is streamed
    /// (``HTTPRequestParser/Limits/streamedBodyLimit``); nil otherwise.
    public let bodyStream: HTTPRequestBody?
    /// The client's address as text (`203.0.113.7`, `2001:db8::1`), IPv4-mapped IPv6 unwrapped.
    public let peerAddress: String
    /// Unique within the process for every request a server read (1, 2, …; 0 for one made
    /// otherwise): what the handler and ``HTTPServerConfiguration/handlerTimedOut`` say about
    /// one request can be matched by it (e.g. to give both the same request id).
    public let number: UInt64

    public init(head: HTTPRequestHead, body: [UInt8], peerAddress: String, number: UInt64 = 0, bodyStream: HTTPRequestBody? = nil) {
        self.head = head
        self.body = body
        self.bodyStream = bodyStream
        self.peerAddress = peerAddress
        self.number = number
    }

    /// A request the server read, numbered.
    static func received(head: HTTPRequestHead, body: [UInt8], peerAddress: String, bodyStream: HTTPRequestBody? = nil) -> HTTPRequest {
        HTTPRequest(head: head, body: body, peerAddress: peerAddress, number: counter.add(1, ordering: .relaxed).newValue,
                    bodyStream: bodyStream)
    }

    private static let counter = Atomic<UInt64>(0)

    public var method: HTTPMethod { head.method }
    public var target: String { head.target }
    public var path: Substring { head.path }
    public var query: Substring? { head.query }
    public var headers: HTTPHeaders { head.headers }
}
