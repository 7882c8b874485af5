/// Sizing and timing of a ``ConnectionPool``.
public struct ConnectionPoolConfiguration: Sendable {
    /// The most connections open at once (leased, idle and being opened together).
    public var maxConnections: Int
    /// How long a caller waits for a free connection before ``ConnectionPoolError/acquireTimeout``.
    public var acquireTimeout: Duration
    /// A connection idle for longer than this is pinged before it is lent, so a half-open TCP
    /// connection (peer gone without a FIN) costs a ping, not a failed request.
    public var idleCheckInterval: Duration
    /// Whether ``PreparedStatement/pipelined`` statements share one pipelined connection per
    /// partition (opened on first use, in addition to `maxConnections`) instead of each
    /// borrowing a connection. Ignored under `--statement-mode unnamed`.
    public var pipelinedReads: Bool

    public init(maxConnections: Int = 10, acquireTimeout: Duration = .seconds(5), idleCheckInterval: Duration = .seconds(30),
                pipelinedReads: Bool = true) {
        self.maxConnections = maxConnections
        self.acquireTimeout = acquireTimeout
        self.idleCheckInterval = idleCheckInterval
        self.pipelinedReads = pipelinedReads
    }
}
