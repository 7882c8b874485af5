import Codecs
import Crypto
import Postgres
import Reactor
import Synchronization

/// Makes a key's rate limit hold across every `crm serve` sharing the database (API.md §14),
/// at no cost on a request's path: each instance keeps admitting from its own token buckets
/// (``KeyGate``), and every ``interval`` this tells the database, in one statement for all
/// the limited keys used within the last 10 s, how many requests of each it admitted since its
/// last report, and reads back how many all the other instances admitted; each bucket is
/// debited by the others' increase (`crm_rate_limit_share`, sql/017).
///
/// So every instance's bucket is a copy of one shared bucket, behind by at most one interval:
/// N instances admit a key's rate plus what the others admitted during the last interval
/// (a constant, about `rate × interval`, however long the load lasts), never N times the rate.
/// A key used through one instance only is limited exactly as with one instance. With the
/// database away, reports wait (their counts kept) and each instance limits on its own.
///
/// Each process names itself with a random UUID; a process that stops leaves its counts, which
/// no longer grow, and the reports delete rows not reported for 10 minutes.
public final class RateLimitSharing: Sendable {
    public let gate: KeyGate
    public let interval: Duration
    /// This process's name in `rate_limit_usage`.
    public let instanceID: String
    public let databaseErrors: DatabaseErrorCounter
    private let reports = Atomic<Int>(0)
    private let loop: PeriodicTask

    static let statement = PreparedStatement(
        name: "crm_rate_limit_share",
        sql: "SELECT slot, others_admitted, others_latest FROM crm_rate_limit_share($1::uuid, $2::text[], $3::bigint[])")

    public init(gate: KeyGate, interval: Duration = .milliseconds(200), databaseErrors: DatabaseErrorCounter = DatabaseErrorCounter()) {
        self.gate = gate
        self.interval = interval
        loop = PeriodicTask(every: interval)
        self.databaseErrors = databaseErrors
        instanceID = Self.randomUUID()
    }

    /// Reports sent since the process started (for metrics and tests).
    public var reportCount: Int { reports.load(ordering: .relaxed) }

    /// Starts reporting every ``interval``.
    public func start() {
        loop.start { [self] in _ = try? await share() }
    }

    public func stop() {
        loop.stop()
    }

    /// One exchange: reports this process's admitted requests and debits the buckets by the
    /// others'. Nothing to report (no limited key used lately) costs no statement.
    public func share() async throws {
        let report = gate.keys.withLock { $0.takeUsageReport(now: MonotonicClock.now()) }
        guard !report.isEmpty else { return }
        let hashes = "{" + report.map { Self.hex($0.keyHash) }.joined(separator: ",") + "}"
        let counts = "{" + report.map { String($0.admitted) }.joined(separator: ",") + "}"
        let rows: PostgresResult
        do {
            rows = try await gate.pool.execute(Self.statement, [instanceID, hashes, counts])
        } catch {
            databaseErrors.record(error)
            gate.keys.withLock { $0.restore(report, now: MonotonicClock.now()) }
            throw error
        }
        reports.add(1, ordering: .relaxed)
        var totals: [KeyCache.OthersAdmitted] = []
        for row in rows.rows {
            let slot = try row.decode(Int.self, column: 0)
            guard report.indices.contains(slot - 1) else { continue }
            totals.append(KeyCache.OthersAdmitted(keyHash: report[slot - 1].keyHash, total: try row.decode(Int64.self, column: 1),
                                                  latest: try row.decode(Int64.self, column: 2)))
        }
        gate.keys.withLock { $0.othersAdmitted(totals, now: MonotonicClock.now()) }
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        var text: [UInt8] = []
        ASCII.appendHexDigits(of: bytes, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// A version 4 UUID from the system's secure random source.
    private static func randomUUID() -> String {
        var bytes = SecureRandom.bytes(16)
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let groups = [0..<4, 4..<6, 6..<8, 8..<10, 10..<16]
        return groups.map { hex(Array(bytes[$0])) }.joined(separator: "-")
    }
}
