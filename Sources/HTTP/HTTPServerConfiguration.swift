import Glibc

/// Where the server listens and the limits it enforces (defaults from the API contract, §5).
public struct HTTPServerConfiguration: Sendable {
    /// `::` (IPv6 and IPv4), `0.0.0.0` (IPv4 only), or one address such as `127.0.0.1`.
    public var host: String
    /// 0 picks a free port; ``HTTPServer/port`` tells which.
    public var port: Int
    /// Event loop threads; each accepts on its own `SO_REUSEPORT` socket. Default: one per core.
    public var eventLoops: Int
    public var limits: HTTPRequestParser.Limits
    /// How long a client may take to send a request's head and body, from its first byte.
    public var requestTimeout: Duration
    /// How long a keep-alive connection may sit idle (or a response sit unread) before it is closed.
    public var idleTimeout: Duration
    /// Open connections beyond this get `503` and are closed.
    public var maxConnections: Int
    /// Renders the server's own error responses (400, 408, 413, 431, 500, 503, …).
    public var errorResponse: @Sendable (HTTPProtocolError) -> HTTPResponse

    public init(
        host: String = "::",
        port: Int = 8080,
        eventLoops: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))),
        limits: HTTPRequestParser.Limits = .init(),
        requestTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        maxConnections: Int = 10_000,
        errorResponse: @escaping @Sendable (HTTPProtocolError) -> HTTPResponse = HTTPServerConfiguration.jsonErrorResponse
    ) {
        self.host = host
        self.port = port
        self.eventLoops = eventLoops
        self.limits = limits
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.errorResponse = errorResponse
    }

    /// `{"status":"error","code":"…","message":"…","data":{}}`, the API's error shape.
    @Sendable
    public static func jsonErrorResponse(_ error: HTTPProtocolError) -> HTTPResponse {
        .json(status: error.status,
              #"{"status":"error","code":"\#(error.code)","message":"\#(error.message)","data":{}}"#)
    }
}
