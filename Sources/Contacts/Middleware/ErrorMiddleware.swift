import HTTP
import Operations

/// Turns whatever the rest of the chain threw into the API's answer, through the one mapping
/// (``RequestFailure``); counts database errors by class (except a key lookup's, which the gate
/// counted once per lookup) and writes an error log line for every `500`, with its cause.
struct ErrorMiddleware: Middleware {
    let databaseErrors: DatabaseErrorCounter
    let errorLog: ErrorLog?

    func respond(to context: RequestContext, next: Responder) async throws -> HTTPResponse {
        do {
            return try await next.respond(context)
        } catch {
            return answer(error, context: context)
        }
    }

    private func answer(_ error: any Error, context: RequestContext) -> HTTPResponse {
        let failure = RequestFailure(error)
        if !failure.alreadyCounted { databaseErrors.record(failure.error) }
        if failure.answer.status == 500 {
            errorLog?.record("internal_error", [("request_id", context.requestID), ("route", context.routeLabel)] + failure.causeFields)
        }
        return APIResponse.error(failure.answer)
    }
}

/// A key lookup's error on its way to ``ErrorMiddleware``: answered like the error itself,
/// but not counted again (``KeyGate`` counts it once per lookup, however many requests waited).
struct KeyLookupFailure: Error {
    let underlying: any Error
}
