/// Who asks comes before what is asked (API.md §2, §8): the three ways a handler turns a key's
/// access (``KeyAccess``, one pipelined read) into its `403`, shared by every key-gated route.
/// Each costs a round trip only on a request that is refused.
extension ContactsAPI {
    /// `validate`'s value; when it throws, the key's access for `scope` first (a key without the
    /// grant or the scope learns nothing of its parameters), then `validate`'s error.
    func validated<Value>(_ keyHash: [UInt8], listing: Int64, scope: KeyScope?,
                          _ validate: () throws(APIError) -> Value) async throws -> Value {
        do {
            return try validate()
        } catch {
            if let scope { try await requireAccess(keyHash, listing: listing, scope: scope) }
            throw error
        }
    }

    /// Throws the `403` a key without the grant or `scope` gets; returns when it has both.
    func requireAccess(_ keyHash: [UInt8], listing: Int64, scope: KeyScope) async throws {
        let access = try await store.access(keyHash: keyHash, listing: listing)
        guard access.allows(scope) else { throw access.refusal(needing: scope) }
    }

    /// The `403` for a request the operation's own SQL refused: naming `scope` to a key granted
    /// the listing without it, the plain one otherwise.
    func refusal(_ keyHash: [UInt8], listing: Int64, needing scope: KeyScope) async throws -> APIError {
        try await store.access(keyHash: keyHash, listing: listing).refusal(needing: scope)
    }
}
