import HTTP
import Operations

/// Writes one access log line per request (``AccessLog``, in batches): id, peer, method, route
/// label, listing, key prefix, status, duration and bytes. A request whose handler missed its
/// deadline gets its line when the server sends the `503` (``handlerTimedOut(_:response:seconds:)``)
/// and another when the handler ends, saying what became of it (`client_status=503`).
struct AccessLogObserver: RequestObserver {
    let log: AccessLog

    func answered(_ context: RequestContext, response: HTTPResponse, seconds: Double, late: Bool) {
        record(context, response, seconds: seconds, clientStatus: late ? 503 : nil)
    }

    func handlerTimedOut(_ context: RequestContext, response: HTTPResponse, seconds: Double) {
        record(context, response, seconds: seconds, clientStatus: nil)
    }

    private func record(_ context: RequestContext, _ response: HTTPResponse, seconds: Double, clientStatus: Int?) {
        let request = context.request
        // Any token is a method to the parser: only known ones are logged as themselves.
        let method = RequestMetrics.methodName(RequestMetrics.methodIndex(request.method.rawValue))
        let listing = context.pathParameter("listing_id")?.prefix(20) ?? ""
        log.record(AccessLog.Entry(
            requestID: context.requestID,
            peer: request.peerAddress,
            method: method,
            route: context.routeLabel,
            listing: listing.isEmpty ? "-" : String(listing),
            // Only the prefix, and only of something shaped like one of our keys.
            keyPrefix: context.presentedKey.flatMap { $0.text.utf8.count >= 24 ? $0.prefix : nil } ?? "-",
            status: response.status.code,
            durationMilliseconds: seconds * 1000,
            bytesIn: request.body.count,
            bytesOut: request.method == "HEAD" ? 0 : response.body.count,
            clientStatus: clientStatus))
    }
}
