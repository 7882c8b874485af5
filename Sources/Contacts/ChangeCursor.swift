/// A position in a listing's change feed (API.md §10, sql/013): the writing transaction's id
/// and the event's sequence number; the feed shows the events after it, in that order.
///
/// Written for clients as `<listing>-<txid>-<seq>` in decimal: opaque to them, but one of
/// another listing, or not of this form, is refused (`400`, parameter `after`).
///
/// An export's cursor (API.md §12) may also name transactions to skip, `…-<seq>-<t1>.<t2>…`:
/// the export's snapshot already holds their changes, though they came after the oldest
/// transaction it could not see. So the feed from an export's cursor repeats nothing (the
/// skipped ones) and misses nothing (every other event after the position). Pages carry the
/// skips on while the feed has not gone past them.
public struct ChangeCursor: Sendable, Equatable, Comparable, CustomStringConvertible {
    public let listing: Int64
    public let txid: UInt64
    public let seq: Int64
    /// Transactions whose events the feed leaves out, ascending (an export's).
    public let skip: [UInt64]

    /// At most this many skipped transactions in a cursor (an export under the heaviest write
    /// load sees a few dozen).
    static let maxSkips = 1000

    public init(listing: Int64, txid: UInt64, seq: Int64, skip: [UInt64] = []) {
        self.listing = listing
        self.txid = txid
        self.seq = seq
        self.skip = skip
    }

    /// The same cursor at another position, keeping the skips still ahead of it.
    func moved(toTxid txid: UInt64, seq: Int64) -> ChangeCursor {
        ChangeCursor(listing: listing, txid: txid, seq: seq, skip: skip.filter { $0 >= txid })
    }

    /// Before every event of `listing`.
    public static func start(of listing: Int64) -> ChangeCursor {
        ChangeCursor(listing: listing, txid: 0, seq: 0)
    }

    /// The `after` parameter of `listing`'s feed; nil when absent or empty.
    public static func parse(_ text: String?, listing: Int64) throws(APIError) -> ChangeCursor? {
        guard let text, !text.isEmpty else { return nil }
        let refusal = APIError.invalid("after", "after must be a next_after this listing's feed returned.")
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        func isNumber(_ part: Substring) -> Bool { !part.isEmpty && part.utf8.allSatisfy { $0 &- UInt8(ascii: "0") < 10 } }
        guard parts.count == 3 || parts.count == 4, parts.prefix(3).allSatisfy(isNumber),
              let owner = Int64(parts[0]), owner == listing, let txid = UInt64(parts[1]), let seq = Int64(parts[2]) else {
            throw refusal
        }
        guard parts.count == 4 else { return ChangeCursor(listing: listing, txid: txid, seq: seq) }
        let skipped = parts[3].split(separator: ".", omittingEmptySubsequences: false)
        guard skipped.count <= maxSkips, skipped.allSatisfy(isNumber) else { throw refusal }
        let skip = skipped.compactMap { UInt64($0) }
        guard skip.count == skipped.count, zip(skip, skip.dropFirst()).allSatisfy({ $0 < $1 }) else { throw refusal }
        return ChangeCursor(listing: listing, txid: txid, seq: seq, skip: skip)
    }

    public var description: String {
        skip.isEmpty ? "\(listing)-\(txid)-\(seq)" : "\(listing)-\(txid)-\(seq)-" + skip.map(String.init).joined(separator: ".")
    }

    public static func < (lhs: ChangeCursor, rhs: ChangeCursor) -> Bool {
        (lhs.txid, lhs.seq) < (rhs.txid, rhs.seq)
    }
}
