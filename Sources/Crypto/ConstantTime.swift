import CCrypto

/// Comparison of secrets (authentication codes, signatures, tokens) whose running time does
/// not depend on the bytes compared, only on their count: OpenSSL's `CRYPTO_memcmp`. A plain
/// `==` stops at the first difference, which lets an attacker guess a code byte by byte.
public enum ConstantTime {
    /// True when `lhs` and `rhs` hold the same bytes. Lengths are not secret: collections of
    /// different counts are unequal at once.
    public static func isEqual<LHS: Collection<UInt8>, RHS: Collection<UInt8>>(_ lhs: LHS, _ rhs: RHS) -> Bool {
        let left = Array(lhs), right = Array(rhs)
        guard left.count == right.count else { return false }
        guard !left.isEmpty else { return true }
        return left.withUnsafeBytes { left in
            right.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0 }
        }
    }
}
