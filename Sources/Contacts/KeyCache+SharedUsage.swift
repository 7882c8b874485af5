/// The rate-limited keys' traffic exchanged with the other instances (``RateLimitSharing``).
extension KeyCache {
    /// One key's line of a report: what this process admitted since its last report.
    struct UsageReport: Equatable {
        let keyHash: [UInt8]
        let admitted: Int64
    }

    /// Takes what to tell the other instances at `now`: every limited key used within
    /// ``sharedUsageWindow`` (with 0 when nothing new was admitted, to learn what the others
    /// did), its unreported count reset. Keys idle for longer are forgotten here.
    mutating func takeUsageReport(now: UInt64) -> [UsageReport] {
        usage = usage.filter { $0.value.unreported > 0 || now <= $0.value.lastUsed || now - $0.value.lastUsed <= Self.sharedUsageWindow }
        let report = usage.map { UsageReport(keyHash: $0.key, admitted: $0.value.unreported) }
        for index in usage.values.indices { usage.values[index].unreported = 0 }
        return report
    }

    /// What the other instances have admitted of one key: in all, and in their reports of the
    /// last second.
    struct OthersAdmitted {
        let keyHash: [UInt8]
        let total: Int64
        let latest: Int64
    }

    /// A report that never reached the database: its counts go back, for the next one.
    mutating func restore(_ report: [UsageReport], now: UInt64) {
        for line in report where line.admitted > 0 {
            usage[line.keyHash, default: SharedUsage(lastUsed: now)].unreported += line.admitted
        }
    }

    /// What the other instances have admitted, per key: each key's bucket is debited by the
    /// increase since the last reading. A first reading debits only the others' latest
    /// reports (older counts are from before this process used the key), and a decrease
    /// (their rows purged) debits nothing: both only set the baseline.
    mutating func othersAdmitted(_ readings: [OthersAdmitted], now: UInt64) {
        for reading in readings {
            guard let seen = usage[reading.keyHash].map({ $0.othersSeen }) else { continue }
            usage[reading.keyHash]?.othersSeen = reading.total
            let spent = seen.map { reading.total - $0 } ?? reading.latest
            guard spent > 0 else { continue }
            _ = entries.update(forKey: reading.keyHash) { $0.bucket?.debit(Double(spent), now: now) }
        }
    }
}
