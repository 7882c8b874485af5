import Postgres

/// What a `crm_api_*` function did, as its `outcome` column reports it: PostgreSQL's enum type
/// `crm_api_outcome` (sql/008), one case per label, the raw value being the label.
///
/// It decodes from the label's text; a label this build does not know is a decoding error
/// (``PostgresError`` of kind `.decoding`), never a silent default.
///
/// ```swift
/// let outcome = try row.decode(ContactOutcome.self, column: 0)   // 'not_found' → .notFound
/// ```
public enum ContactOutcome: String, CaseIterable, Sendable, PostgresDecodable {
    /// The key is unknown, revoked or not granted the listing; nothing was done.
    case forbidden
    case created
    case updated
    case deleted
    /// No contact matched (delete), or an update without id had no email or phone to look for.
    case notFound = "not_found"
    /// The email or phone belongs to another contact of the listing.
    case duplicate
    /// The email, its domain or the phone is blacklisted.
    case blacklisted
    /// The email and the phone belong to two different contacts.
    case conflict
    /// A CHECK constraint refused a value (the service's validation should have first).
    case invalid
    /// The update would leave the contact without email and phone.
    case lastContactPoint = "last_contact_point"
    /// Another request with the same Idempotency-Key is still running (sql/011).
    case inFlight = "in_flight"
    /// The Idempotency-Key was used before for another method, path or parameters.
    case idempotencyKeyReused = "idempotency_key_reused"
    /// An erasure's first step stored the suppressions of the contacts it will delete (sql/012).
    case suppressed

    public init?(postgresText text: ArraySlice<UInt8>) {
        self.init(rawValue: String(decoding: text, as: UTF8.self))
    }
}
