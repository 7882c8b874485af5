import Codecs
import HTTP

/// Who sent a request, as far as the service can tell behind its trusted proxies (`--trusted-proxy`).
///
/// Two answers, for two purposes, because a proxy *appends* the address it received from to
/// `X-Forwarded-For` and keeps whatever the client itself sent in front of it:
/// - ``clientAddress(of:)``, the first entry: the end user's address as the integration's
///   chain of proxies reports it (API.md §3), recorded on contacts. A client can write anything
///   there, which is harmless on a contact.
/// - ``requesterAddress(of:)``, the rightmost entry not written by a trusted proxy: the
///   address that connected to our outermost proxy, which no client can choose. Refused
///   authentications are counted by it (``KeyGate``), so rotating made-up `X-Forwarded-For`
///   values does not earn a fresh allowance.
extension ContactsAPI {
    /// The first `X-Forwarded-For` entry if the peer is a trusted proxy and the entry is an
    /// address, else the peer itself. A contact created without `ip_address` gets it.
    func clientAddress(of request: HTTPRequest) -> String {
        if trustedProxies.contains(request.peerAddress),
           let forwarded = request.headers["X-Forwarded-For"]?.split(separator: ",").first.map({ String($0.trimming(.spacesAndTabs)) }),
           ContactValidation.isIPAddress(forwarded) {
            return forwarded
        }
        return request.peerAddress
    }

    /// The peer, or, when the peer is a trusted proxy, the `X-Forwarded-For` entries read from
    /// the right, past those of trusted proxies: the first other entry (the address our
    /// outermost proxy saw), or the last trusted proxy when all were trusted or one is not an
    /// address.
    func requesterAddress(of request: HTTPRequest) -> String {
        var requester = request.peerAddress
        guard trustedProxies.contains(requester), let header = request.headers["X-Forwarded-For"] else { return requester }
        for entry in header.split(separator: ",").reversed() {
            let address = String(entry.trimming(.spacesAndTabs))
            guard ContactValidation.isIPAddress(address) else { break }
            requester = address
            guard trustedProxies.contains(requester) else { break }
        }
        return requester
    }
}
