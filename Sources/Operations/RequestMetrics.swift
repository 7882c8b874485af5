import Synchronization

/// The HTTP request metrics (count by route/method/status, duration histogram by route/method,
/// body bytes by route), kept in slots addressed by small integers: one lock and one integer
/// lookup per request instead of building label strings, which cost more than parsing the
/// request did. Rendered through ``MetricsRegistry`` at scrape time.
///
/// Routes are templates fixed at `init` (never raw paths); methods outside ``methods`` count
/// as `OTHER`, so no client can grow the label set.
public final class RequestMetrics: Sendable {
    /// The methods counted under their own name.
    public static let methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]

    public let routes: [String]
    public let buckets: [Double]
    private let series = Mutex<[Int: Series]>([:])

    fileprivate struct Series {
        var count: UInt64 = 0
        /// Non-cumulative: `bucketCounts[i]` counts durations in `(buckets[i-1], buckets[i]]`;
        /// the last slot counts those above every bound.
        var bucketCounts: [UInt64]
        var durationSum: Double = 0
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
    }

    public init(routes: [String], buckets: [Double]) {
        self.routes = routes
        self.buckets = buckets.sorted()
    }

    /// The slot of `method`: its index in ``methods`` when known, else that of `OTHER`.
    public static func methodIndex(_ method: String) -> Int {
        methods.firstIndex(of: method) ?? methods.count
    }

    /// The label value of a ``methodIndex(_:)``: the method itself, or `OTHER`.
    public static func methodName(_ index: Int) -> String {
        index < methods.count ? methods[index] : "OTHER"
    }

    public func record(route: Int, methodIndex: Int, status: Int, seconds: Double, bytesIn: Int, bytesOut: Int) {
        let key = (route << 20) | (methodIndex << 12) | (status & 0xfff)
        let bucket = buckets.firstIndex { seconds <= $0 } ?? buckets.count
        let slots = buckets.count + 1
        series.withLock { series in
            series[key, default: Series(bucketCounts: Array(repeating: 0, count: slots))].record(
                bucket: bucket, seconds: seconds, bytesIn: bytesIn, bytesOut: bytesOut)
        }
    }

    /// Declares the four families in `registry`, with these names.
    public func register(in registry: MetricsRegistry, requests: String, duration: String, requestBytes: String, responseBytes: String) {
        registry.declareCollected(requests, help: "HTTP requests answered, by route template, method and status.", type: "counter") {
            self.snapshot().map { (suffix: "", labels: self.labels($0.key, status: true), value: Double($0.value.count)) }
        }
        registry.declareCollected(duration, help: "Time to answer a request, by route template and method.", type: "histogram") {
            self.durationSamples()
        }
        registry.declareCollected(requestBytes, help: "Request body bytes received, by route template.", type: "counter") {
            self.bytesByRoute(\.bytesIn)
        }
        registry.declareCollected(responseBytes, help: "Response body bytes sent, by route template.", type: "counter") {
            self.bytesByRoute(\.bytesOut)
        }
    }

    private func snapshot() -> [(key: Int, value: Series)] {
        series.withLock { $0 }.sorted { $0.key < $1.key }
    }

    private func labels(_ key: Int, status: Bool = false) -> MetricsRegistry.Labels {
        let route = key >> 20
        var labels: MetricsRegistry.Labels = [("route", route < routes.count ? routes[route] : "other"),
                                              ("method", Self.methodName((key >> 12) & 0xff))]
        if status { labels.append(("status", String(key & 0xfff))) }
        return labels
    }

    private func durationSamples() -> [MetricsRegistry.Sample] {
        var merged: [(key: Int, value: Series)] = []
        for (key, series) in snapshot() {
            let routeAndMethod = key & ~0xfff
            if let last = merged.last, last.key == routeAndMethod {
                merged[merged.count - 1].value.merge(series)
            } else {
                merged.append((routeAndMethod, series))
            }
        }
        var samples: [MetricsRegistry.Sample] = []
        for (key, series) in merged {
            let labels = self.labels(key)
            var cumulative: UInt64 = 0
            for (index, bound) in buckets.enumerated() {
                cumulative += series.bucketCounts[index]
                samples.append((suffix: "_bucket", labels: labels + [("le", MetricsRegistry.number(bound))], value: Double(cumulative)))
            }
            samples.append((suffix: "_bucket", labels: labels + [("le", "+Inf")], value: Double(series.count)))
            samples.append((suffix: "_sum", labels: labels, value: series.durationSum))
            samples.append((suffix: "_count", labels: labels, value: Double(series.count)))
        }
        return samples
    }

    private func bytesByRoute(_ field: KeyPath<Series, UInt64>) -> [MetricsRegistry.Sample] {
        var totals: [Int: UInt64] = [:]
        for (key, series) in snapshot() { totals[key >> 20, default: 0] += series[keyPath: field] }
        return totals.sorted { $0.key < $1.key }.map {
            (suffix: "", labels: [("route", $0.key < routes.count ? routes[$0.key] : "other")], value: Double($0.value))
        }
    }
}

extension RequestMetrics.Series {
    mutating func record(bucket: Int, seconds: Double, bytesIn: Int, bytesOut: Int) {
        count += 1
        bucketCounts[bucket] += 1
        durationSum += seconds
        self.bytesIn += UInt64(max(0, bytesIn))
        self.bytesOut += UInt64(max(0, bytesOut))
    }

    mutating func merge(_ other: Self) {
        count += other.count
        for index in bucketCounts.indices { bucketCounts[index] += other.bucketCounts[index] }
        durationSum += other.durationSum
        bytesIn += other.bytesIn
        bytesOut += other.bytesOut
    }
}
