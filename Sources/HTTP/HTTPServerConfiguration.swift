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
    /// How long a handler may take to answer a request read whole; after it, the handler's task
    /// is cancelled and the client gets `503` with `Retry-After` on a connection that stays
    /// usable. A backstop for what nothing below bounds: keep it above the database's own
    /// timeouts, so that their errors are what clients see first. The server cancels a
    /// handler's task for this reason only: a handler that finds itself cancelled knows the
    /// client got that `503`, not its answer.
    public var handlerTimeout: Duration
    /// Called on the event loop when a handler missed ``handlerTimeout``, with the request and
    /// the `503` about to be sent; what it returns is sent instead. The application logs and
    /// counts that answer there like its own (and tags it, e.g. with the request's id). It
    /// must not block. The handler's task is cancelled just before.
    public var handlerTimedOut: (@Sendable (HTTPHandlerTimeout) -> HTTPResponse)?
    /// Open connections beyond this get `503` and are closed.
    public var maxConnections: Int
    /// Bytes all connections together may hold in buffers (unfinished requests, requests being
    /// handled, responses not yet written); see ``HTTPBufferBudget`` for what happens near it.
    public var maxBufferedBytes: Int
    /// Renders the server's own error responses (400, 408, 413, 431, 500, 503, …): the
    /// application's error shape goes here (the server's default is plain text).
    public var errorResponse: @Sendable (HTTPProtocolError) -> HTTPResponse

    public init(
        host: String = "::",
        port: Int = 8080,
        eventLoops: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))),
        limits: HTTPRequestParser.Limits = .init(),
        requestTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        handlerTimeout: Duration = .seconds(15),
        maxConnections: Int = 10_000,
        maxBufferedBytes: Int = 128 << 20,
        errorResponse: @escaping @Sendable (HTTPProtocolError) -> HTTPResponse = HTTPServerConfiguration.plainTextErrorResponse,
        handlerTimedOut: (@Sendable (HTTPHandlerTimeout) -> HTTPResponse)? = nil
    ) {
        self.host = host
        self.port = port
        self.eventLoops = eventLoops
        self.limits = limits
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.handlerTimeout = handlerTimeout
        self.maxConnections = maxConnections
        self.maxBufferedBytes = maxBufferedBytes
        self.errorResponse = errorResponse
        self.handlerTimedOut = handlerTimedOut
    }

    /// The server's own errors as plain text, for a server without an application's error
    /// shape: the status line's reason phrase (`Request Timeout`), `text/plain`; a `503`
    /// carries `Retry-After: 1`. An application passes its own renderer instead.
    @Sendable
    public static func plainTextErrorResponse(_ error: HTTPProtocolError) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("Content-Type", "text/plain; charset=utf-8")
        if error.status == .serviceUnavailable { headers.add("Retry-After", "1") }
        return HTTPResponse(status: error.status, headers: headers, body: Array("\(error.status.reasonPhrase)\n".utf8))
    }
}
