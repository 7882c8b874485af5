import Synchronization

/// A small in-process metrics registry rendered in the Prometheus text exposition format
/// (version 0.0.4): counters with labels, and families read at scrape time (gauges, and
/// metrics a component keeps in its own form, such as ``RequestMetrics``' histograms).
///
/// Deliberately tiny instead of swift-metrics + swift-prometheus: a handful of series, one
/// lock, no extra build time.
///
/// ```swift
/// let metrics = MetricsRegistry()
/// metrics.declareCounter("crm_http_requests_total", help: "HTTP requests answered.")
/// metrics.increment("crm_http_requests_total", labels: [("route", "/crm/{listing_id}"), ("status", "200")])
/// let text = metrics.render()
/// ```
public final class MetricsRegistry: Sendable {
    /// Labels in the order they are rendered.
    public typealias Labels = [(String, String)]

    /// One line of a family kept elsewhere: `suffix` (`""`, `"_bucket"`, `"_sum"`, …) is
    /// appended to the family's name.
    public typealias Sample = (suffix: String, labels: Labels, value: Double)

    private struct SeriesKey: Hashable {
        let name: String
        let labels: [String]  // "name=value" pairs, already escaped
    }

    private struct Family {
        let type: String
        let help: String
        var collected = false
    }

    private struct State {
        var families: [String: Family] = [:]
        var order: [String] = []
        var counters: [SeriesKey: Double] = [:]
        var collected: [String: @Sendable () -> [Sample]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func declareCounter(_ name: String, help: String) {
        declare(name, Family(type: "counter", help: help))
    }

    /// Series that `read` returns at each scrape: gauges (pool sizes, open connections), or
    /// with `type: "counter"` a count kept elsewhere that only grows.
    public func declareGauge(_ name: String, help: String, type: String = "gauge", read: @escaping @Sendable () -> [(Labels, Double)]) {
        declareCollected(name, help: help, type: type) { read().map { (suffix: "", labels: $0.0, value: $0.1) } }
    }

    /// A family of any `type` whose samples `samples` returns at each scrape: for metrics a
    /// component keeps in its own cheaper form (``RequestMetrics``).
    public func declareCollected(_ name: String, help: String, type: String, samples: @escaping @Sendable () -> [Sample]) {
        state.withLock { $0.collected[name] = samples }
        declare(name, Family(type: type, help: help, collected: true))
    }

    public func increment(_ name: String, labels: Labels = [], by amount: Double = 1) {
        let key = SeriesKey(name: name, labels: Self.encode(labels))
        state.withLock { $0.counters[key, default: 0] += amount }
    }

    /// The current value of a counter series (for tests and diagnostics).
    public func counterValue(_ name: String, labels: Labels = []) -> Double {
        state.withLock { $0.counters[SeriesKey(name: name, labels: Self.encode(labels))] ?? 0 }
    }

    /// Every family, in declaration order, as Prometheus text.
    public func render() -> String {
        let (families, order, counters, collected) = state.withLock {
            ($0.families, $0.order, $0.counters, $0.collected)
        }
        var text = ""
        for name in order {
            guard let family = families[name] else { continue }
            text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.type)\n"
            if family.collected {
                for sample in collected[name]?() ?? [] {
                    text += "\(name)\(sample.suffix)\(Self.format(Self.encode(sample.labels))) \(Self.number(sample.value))\n"
                }
                continue
            }
            for (key, value) in counters.filter({ $0.key.name == name }).sorted(by: { $0.key.labels.lexicographicallyPrecedes($1.key.labels) }) {
                text += "\(name)\(Self.format(key.labels)) \(Self.number(value))\n"
            }
        }
        return text
    }

    private func declare(_ name: String, _ family: Family) {
        state.withLock { state in
            if state.families[name] == nil { state.order.append(name) }
            state.families[name] = family
        }
    }

    private static func encode(_ labels: Labels) -> [String] {
        labels.map { "\($0.0)=\"\(escape($0.1))\"" }
    }

    private static func format(_ labels: [String]) -> String {
        labels.isEmpty ? "" : "{" + labels.joined(separator: ",") + "}"
    }

    /// Label values escape backslash, double quote and line feed (exposition format).
    private static func escape(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A number as the exposition format writes it (integers without a fraction).
    public static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
