import CLibPQ

/// libpq's pipeline mode (PostgreSQL 14+), on the loop thread: statements go out as soon as
/// they are submitted, without waiting for earlier answers, and the ones submitted in the same
/// turn of the loop share one Sync (one write, one implicit transaction on the server, which
/// reads them all in one wake-up). Only quick reads are sent this way (`PreparedStatement.
/// pipelined`): sharing a transaction cannot change what a read sees in READ COMMITTED, where
/// each statement takes its own snapshot. If one statement of a group fails, the server skips
/// the rest of the group: those complete with ``PostgresError/Kind/notRun`` and may simply run
/// again. Results come back in order; a request completes at the end of its Execute's results.
extension PostgresConnection {
    func enterPipelineMode() -> Bool {
        guard let handle, current == nil, pending.isEmpty, !pipelined, PQenterPipelineMode(handle) == 1 else { return false }
        pipelined = true
        return true
    }

    func sendPipelined(_ request: PendingRequest) {
        guard let handle, case .prepared(let statement, let parameters) = request.command else {
            request.completion(.failure(PostgresError(kind: .client, message: "only prepared statements run in pipeline mode")))
            return
        }
        var inFlight = InFlightRequest(request: request, stage: .executing)
        var sent = true
        if !preparedNames.contains(statement.name) {
            countPrepare()
            inFlight.stage = .preparing
            sent = PQsendPrepare(handle, statement.name, statement.sql, Int32(parameters.count), nil) == 1
            if sent { preparedNames.insert(statement.name) }
        }
        if sent {
            sent = CStringArray.with(parameters) { values in
                PQsendQueryPrepared(handle, statement.name, Int32(values.count), values, nil, nil, 0)
            } == 1
        }
        pipelineInFlight.append(inFlight)
        // A refused send leaves the pipeline in an unknown state: give the connection up.
        guard sent else {
            fail(PostgresError(kind: .connectionClosed, message: lastErrorMessage()))
            return
        }
        countSent()
        if !pipelineSyncScheduled {
            pipelineSyncScheduled = true
            loop.execute { self.syncPipeline() }
        }
    }

    /// Ends the group sent this turn with a Sync, which libpq also writes out.
    private func syncPipeline() {
        pipelineSyncScheduled = false
        guard let handle else { return }
        guard PQpipelineSync(handle) == 1 else {
            fail(PostgresError(kind: .connectionClosed, message: lastErrorMessage()))
            return
        }
        flush()
    }

    func collectPipelinedResults() {
        while let handle, !pipelineInFlight.isEmpty, PQisBusy(handle) == 0 {
            guard let result = PQgetResult(handle) else {
                finishPipelinedStage()
                continue
            }
            let status = PQresultStatus(result)
            switch status {
            case PGRES_PIPELINE_SYNC:
                break  // the end of a group; its requests completed at their own ends
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                pipelineInFlight[0].results.append(PostgresResult(copying: result))
            case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
                if pipelineInFlight[0].error == nil || pipelineInFlight[0].error?.kind == .notRun {
                    recordPipelinedError(serverError(result))
                }
            case PGRES_PIPELINE_ABORTED:
                if pipelineInFlight[0].error == nil {
                    recordPipelinedError(PostgresError(kind: .notRun, message: "skipped after an earlier statement of its pipeline group failed"))
                }
            default:
                PQclear(result)
                fail(PostgresError(kind: .client, message: "unexpected result status \(status.rawValue) in pipeline mode"))
                return
            }
            PQclear(result)
        }
    }

    /// Sets the oldest request's error. If its Prepare is what failed (or was skipped), the
    /// name was never defined on the server, so the next use prepares it again.
    private func recordPipelinedError(_ error: PostgresError) {
        pipelineInFlight[0].error = error
        if pipelineInFlight[0].stage == .preparing, case .prepared(let statement, _) = pipelineInFlight[0].request.command {
            preparedNames.remove(statement.name)
        }
    }

    /// A NULL result: the current message (Prepare or Execute) of the oldest request is done.
    private func finishPipelinedStage() {
        guard !pipelineInFlight.isEmpty else { return }
        if pipelineInFlight[0].stage == .preparing {
            pipelineInFlight[0].stage = .executing
            return
        }
        let done = pipelineInFlight.removeFirst()
        if let error = done.error {
            done.request.completion(.failure(error))
        } else {
            done.request.completion(.success(done.results))
        }
    }
}
