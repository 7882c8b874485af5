/// What a key may do in one listing, as `crm_key_access` (sql/010) reports it: nothing (not
/// live, or not granted the listing), or the listing with the key's scopes (API.md §8).
///
/// The operations check the grant and the scope in the statement that does the work; this is
/// asked only after a refusal, to choose the answer: a key not granted the listing gets the
/// plain `403` and learns nothing about it, a key granted the listing is told the scope it lacks.
public enum KeyAccess: Sendable, Equatable {
    case notGranted
    case granted(scopes: Set<KeyScope>)

    /// Whether a request needing `scope` may run.
    public func allows(_ scope: KeyScope) -> Bool {
        if case .granted(let scopes) = self { return scopes.contains(scope) }
        return false
    }

    /// The `403` for a request needing `scope` that this access does not allow: the plain one
    /// unless the key is granted the listing.
    public func refusal(needing scope: KeyScope) -> APIError {
        if case .granted(let scopes) = self, !scopes.contains(scope) { return .missingScope(scope) }
        return .forbidden
    }

    /// From `crm_key_access`'s answer: nil (no row) or the scopes' labels joined by commas.
    /// A label this build does not know is ignored (it allows nothing here).
    init(scopeList: String?) {
        guard let scopeList else {
            self = .notGranted
            return
        }
        self = .granted(scopes: Set(scopeList.split(separator: ",").compactMap { KeyScope(rawValue: String($0)) }))
    }
}
