import CLibPQ

/// libpq's pipeline mode (PostgreSQL 14+), on the loop thread: statements go out as soon as
/// they are submitted, without waiting for earlier answers, and the ones submitted in the same
/// turn of the loop share one Sync (one write, one implicit transaction on the server, which
/// reads them all in one wake-up). Only quick reads are sent this way (`PreparedStatement.
/// pipelined`): sharing a transaction cannot change what a read sees in READ COMMITTED, where
/// each statement takes its own snapshot. If one statement of a group fails, the server skips
/// the rest of the group: those complete with ``PostgresError/Kind/notRun`` and may simply run
/// again. ``PostgresRequestQueue`` keeps the order; this is the libpq side.
extension PostgresConnection {
    func enterPipelineMode() -> Bool {
        guard let handle, state.value.queue.canEnterPipelineMode, PQenterPipelineMode(handle) == 1 else { return false }
        state.value.queue.enteredPipelineMode()
        return true
    }

    /// Queues a statement's Prepare (when `prepare`) and Execute; false if libpq refused, which
    /// leaves the pipeline in an unknown state: the connection is given up.
    func sendPipelined(_ statement: PreparedStatement, _ parameters: [String?], prepare: Bool) -> Bool {
        guard let handle else { return false }
        var sent = true
        if prepare {
            countPrepare()
            sent = PQsendPrepare(handle, statement.name, statement.sql, Int32(parameters.count), nil) == 1
        }
        if sent {
            sent = CStringArray.with(parameters) { values in
                PQsendQueryPrepared(handle, statement.name, Int32(values.count), values, nil, nil, 0)
            } == 1
        }
        guard sent else {
            fail(.connectionClosed(lastErrorMessage()))
            return false
        }
        countSent()
        return true
    }

    /// Ends the group sent this turn with a Sync, which libpq also writes out.
    func syncPipeline() {
        state.value.queue.syncSent()
        guard let handle else { return }
        guard PQpipelineSync(handle) == 1 else {
            fail(.connectionClosed(lastErrorMessage()))
            return
        }
        flush()
    }
}
