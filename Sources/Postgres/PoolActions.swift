/// A connection handed to a waiter, with how long it had been idle (for the liveness check).
struct PoolLease<Connection: AnyObject> {
    let waiter: PoolStateMachine<Connection>.WaiterID
    let connection: Connection
    let idleSince: UInt64
}

/// What the pool shell must do after an event, all outside its lock.
struct PoolActions<Connection: AnyObject> {
    var leases: [PoolLease<Connection>] = []
    var failures: [(PoolStateMachine<Connection>.WaiterID, ConnectionPoolError)] = []
    /// Waiters that get the error of the failed connection attempt.
    var connectFailures: [PoolStateMachine<Connection>.WaiterID] = []
    var closes: [Connection] = []
    var connectionsToOpen = 0
    var shutdownComplete = false
    /// Callers of the pipelined connection that get ``pipelineConnection``.
    var pipelineLeases: [PoolStateMachine<Connection>.WaiterID] = []
    var pipelineConnection: Connection?
    /// Callers of the pipelined connection that get the error of the attempt to open it.
    var pipelineConnectFailures: [PoolStateMachine<Connection>.WaiterID] = []
}

extension PoolLease: Sendable where Connection: Sendable {}
