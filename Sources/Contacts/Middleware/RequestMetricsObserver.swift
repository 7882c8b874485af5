import HTTP
import Operations

/// Counts every answer in the request metrics (`crm_http_requests_total`, the duration
/// histogram, body bytes), by route label, method and status.
///
/// Kept cheap on purpose (it was half of a `/healthz` request's CPU time when it built label
/// strings): ``RequestMetrics`` counts in integer-addressed slots.
struct RequestMetricsObserver: RequestObserver {
    static let durationBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    let requestMetrics: RequestMetrics

    init(registry: MetricsRegistry) {
        requestMetrics = RequestMetrics(routes: RouteTable.labels, buckets: Self.durationBuckets)
        requestMetrics.register(in: registry, requests: "crm_http_requests_total", duration: "crm_http_request_duration_seconds",
                                requestBytes: "crm_http_request_body_bytes_total", responseBytes: "crm_http_response_body_bytes_total")
    }

    func answered(_ context: RequestContext, response: HTTPResponse, seconds: Double, late: Bool) {
        // A late handler's client got the server's 503, counted when it was sent.
        if !late { record(context, response, seconds: seconds) }
    }

    func handlerTimedOut(_ context: RequestContext, response: HTTPResponse, seconds: Double) {
        record(context, response, seconds: seconds)
    }

    private func record(_ context: RequestContext, _ response: HTTPResponse, seconds: Double) {
        let request = context.request
        requestMetrics.record(route: context.routeIndex, methodIndex: RequestMetrics.methodIndex(request.method.rawValue),
                              status: response.status.code, seconds: seconds,
                              bytesIn: request.body.count, bytesOut: request.method == "HEAD" ? 0 : response.body.count)
    }
}
