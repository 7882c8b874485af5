import Crypto

/// The Standard Webhooks signature of a delivery (API.md §11): `webhook-signature:
/// v1,<base64 HMAC-SHA256(secret bytes, "<webhook-id>.<webhook-timestamp>.<body>")>`, where the
/// secret bytes are the base64 after `whsec_`. Any Standard Webhooks library verifies it (the
/// tests use the `standardwebhooks` package from PyPI, not this code).
public enum WebhookSignature {
    /// The header value for `body` sent as message `id` at `timestamp` (Unix seconds); nil when
    /// `secret` is not a `whsec_` secret.
    public static func sign(secret: String, id: String, timestamp: Int64, body: [UInt8]) -> String? {
        guard secret.hasPrefix("whsec_"), let key = Base64.decode(String(secret.dropFirst(6))) else { return nil }
        let signed = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Base64.encode(HMACSHA256.authenticationCode(for: signed, key: key))
    }
}
