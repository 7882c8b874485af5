/// What the server tells ``HTTPServerConfiguration/handlerTimedOut`` about a request whose
/// handler did not answer within ``HTTPServerConfiguration/handlerTimeout``.
public struct HTTPHandlerTimeout: Sendable {
    /// The request, as the handler got it.
    public let request: HTTPRequest
    /// From the request being handed to its handler until now.
    public let elapsed: Duration
    /// What the server is about to send: ``HTTPServerConfiguration/errorResponse`` for
    /// ``HTTPProtocolError/handlerTimeout`` (`503`).
    public let response: HTTPResponse

    public init(request: HTTPRequest, elapsed: Duration, response: HTTPResponse) {
        self.request = request
        self.elapsed = elapsed
        self.response = response
    }
}
