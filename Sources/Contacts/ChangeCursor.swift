/// A position in a listing's change feed (API.md §10, sql/013): the writing transaction's id
/// and the event's sequence number; the feed shows the events after it, in that order.
///
/// Written for clients as `<listing>-<txid>-<seq>` in decimal: opaque to them, but one of
/// another listing, or not of this form, is refused (`400`, parameter `after`).
public struct ChangeCursor: Sendable, Equatable, Comparable, CustomStringConvertible {
    public let listing: Int64
    public let txid: UInt64
    public let seq: Int64

    public init(listing: Int64, txid: UInt64, seq: Int64) {
        self.listing = listing
        self.txid = txid
        self.seq = seq
    }

    /// Before every event of `listing`.
    public static func start(of listing: Int64) -> ChangeCursor {
        ChangeCursor(listing: listing, txid: 0, seq: 0)
    }

    /// The `after` parameter of `listing`'s feed; nil when absent or empty.
    public static func parse(_ text: String?, listing: Int64) throws(APIError) -> ChangeCursor? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 &- UInt8(ascii: "0") < 10 } }),
              let owner = Int64(parts[0]), owner == listing, let txid = UInt64(parts[1]), let seq = Int64(parts[2]) else {
            throw APIError.invalid("after", "after must be a next_after this listing's feed returned.")
        }
        return ChangeCursor(listing: listing, txid: txid, seq: seq)
    }

    public var description: String { "\(listing)-\(txid)-\(seq)" }

    public static func < (lhs: ChangeCursor, rhs: ChangeCursor) -> Bool {
        (lhs.txid, lhs.seq) < (rhs.txid, rhs.seq)
    }
}
