import Reactor

/// The partition's pipelined connection: quick reads of many callers share it (``ConnectionPool/
/// execute(_:_:)``). Its life cycle (absent, opening with its waiters, open) is part of the
/// ``PoolStateMachine``, under the partition's one lock; this is the shell that opens it.
extension ConnectionPoolPartition {
    /// The partition's pipelined connection, opened on first use and again after it closed.
    func pipelineConnection() async throws -> PostgresConnection {
        let open = shared.withLock { shared -> PostgresConnection? in
            guard let connection = shared.machine.pipelineConnection else { return nil }
            guard !connection.isClosed else {
                shared.machine.pipelineConnectionClosed(connection)
                return nil
            }
            return connection
        }
        if let open { return open }
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<PostgresConnection, Error>) in
            let action = shared.withLock { shared -> Machine.PipelineAction in
                let id = shared.newWaiterID()
                let action = shared.machine.waitForPipeline(id)
                switch action {
                case .wait, .open: shared.waiters[id] = .pipeline(continuation)
                case .use, .fail: break
                }
                return action
            }
            switch action {
            case .use(let connection): continuation.resume(returning: connection)
            case .fail(let error): continuation.resume(throwing: error)
            case .wait: break
            case .open: openPipelineConnection()
            }
        }
    }

    private func openPipelineConnection() {
        Task {
            let actions: PoolActions<PostgresConnection>
            do {
                let connection = try await PostgresConnection.connect(connectionConfiguration, on: loop)
                guard await connection.enablePipelineMode() else {
                    await connection.close()
                    throw PostgresError.client("could not enter pipeline mode")
                }
                // The handler holds the connection strongly: a weak reference would give it a
                // side table, and every retain of the busiest connection would take the slow
                // path. The cycle ends when the connection closes (its handlers are dropped).
                connection.onClose { [weak self] _ in
                    self?.shared.withLock { $0.machine.pipelineConnectionClosed(connection) }
                }
                actions = shared.withLock { $0.machine.pipelineOpened(connection) }
            } catch {
                actions = shared.withLock { shared in
                    shared.pipelineOpenError = error
                    return shared.machine.pipelineOpenFailed()
                }
            }
            perform(actions)
        }
    }
}
