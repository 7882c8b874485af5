/// Who made a write, as the change feed shows it (`actor`, API.md §10): the key's prefix and
/// the request's id, handed to the database in the write's own statement (`crm_actor`, sql/013).
public struct ChangeActor: Sendable, Equatable {
    public let keyPrefix: String?
    public let requestID: String?

    public init(keyPrefix: String?, requestID: String?) {
        self.keyPrefix = keyPrefix
        self.requestID = requestID
    }

    /// No actor (tools and tests calling the store directly).
    public static let none = ChangeActor(keyPrefix: nil, requestID: nil)
}
