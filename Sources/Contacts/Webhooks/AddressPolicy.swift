import Dispatch
import Glibc
import Synchronization

/// Which addresses a webhook may be sent to (API.md §11, SSRF): none that is loopback,
/// private, shared (CGNAT), link-local, multicast, broadcast or unspecified, in IPv4 or IPv6
/// (IPv4-mapped IPv6 addresses judged as their IPv4 address), unless the operator allows
/// private addresses (`--webhook-allow-private`). A name is resolved and every address it
/// resolves to must be allowed. Checked when an endpoint is added, and at each delivery, which
/// connects to the addresses checked (``check(host:port:)``).
public struct AddressPolicy: Sendable {
    public let allowsPrivate: Bool

    public init(allowsPrivate: Bool) {
        self.allowsPrivate = allowsPrivate
    }

    /// Why `host` may not be called, or nil when it may. Resolves names (on a thread of its
    /// own: `getaddrinfo` blocks).
    public func refusal(host: String) async -> String? {
        if case let .refused(why) = await check(host: host, port: 0) { return why }
        return nil
    }

    /// Whether a delivery may connect to `host`, and to which addresses.
    public enum Verdict: Sendable, Equatable {
        /// Allowed; `pins` (libcurl's `CURLOPT_RESOLVE` entries, `host:port:address,…`) hold
        /// the connection to the addresses checked, so a second lookup cannot swap in another
        /// (DNS rebinding). Empty when private addresses are allowed or `host` is an address.
        case allowed(pins: [String])
        case refused(String)
    }

    /// Resolves `host` once and judges every address it resolves to; a lookup that takes
    /// longer than `limit` is refused (a delivery's lookup counts against its timeout).
    public func check(host: String, port: Int, within limit: Duration = .seconds(15)) async -> Verdict {
        if allowsPrivate { return .allowed(pins: []) }
        guard let addresses = await Self.resolve(host, within: limit) else {
            return .refused("did not resolve within \(limit.components.seconds) s")
        }
        guard !addresses.isEmpty else { return .refused("does not resolve") }
        if let blocked = addresses.first(where: Self.isPrivate) {
            return .refused("resolves to \(Self.text(of: blocked)), a loopback, private or otherwise internal address")
        }
        let texts = addresses.map { $0.count == 16 ? "[\(Self.text(of: $0))]" : Self.text(of: $0) }
        if host.contains(":") || texts == [host] { return .allowed(pins: []) }
        return .allowed(pins: ["\(host):\(port):" + texts.joined(separator: ",")])
    }

    /// An address as bytes: 4 (IPv4) or 16 (IPv6).
    public static func isPrivate(_ address: [UInt8]) -> Bool {
        if address.count == 16 {
            if address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF {
                return isPrivate(Array(address[12..<16]))  // IPv4-mapped
            }
            if address[0..<8].allSatisfy({ $0 == 0 }) && address[8] == 0xFF && address[9] == 0xFF
                && address[10] == 0 && address[11] == 0 {
                return isPrivate(Array(address[12..<16]))  // IPv4-translated (SIIT)
            }
            if address[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] {
                return isPrivate(Array(address[12..<16]))  // NAT64 64:ff9b::/96
            }
            if address[0] == 0x20 && address[1] == 0x02 {
                return isPrivate(Array(address[2..<6]))  // 6to4 2002::/16
            }
            if address[0] == 0xFE && address[1] & 0xC0 == 0xC0 { return true }  // fec0::/10 site-local
            if address.allSatisfy({ $0 == 0 }) { return true }  // ::
            if address[0..<15].allSatisfy({ $0 == 0 }) && address[15] == 1 { return true }  // ::1
            if address[0] & 0xFE == 0xFC { return true }  // fc00::/7 unique local
            if address[0] == 0xFE && address[1] & 0xC0 == 0x80 { return true }  // fe80::/10 link-local
            if address[0] == 0xFF { return true }  // multicast
            if address[0..<12].allSatisfy({ $0 == 0 }) { return true }  // IPv4-compatible (deprecated)
            return false
        }
        guard address.count == 4 else { return true }
        let (a, b) = (address[0], address[1])
        return a == 0 || a == 10 || a == 127 || a >= 224  // this network, private, loopback, multicast and reserved
            || (a == 100 && b & 0xC0 == 64)  // 100.64.0.0/10 shared (CGNAT)
            || (a == 169 && b == 254)  // link-local (cloud metadata)
            || (a == 172 && b & 0xF0 == 16) || (a == 192 && b == 168)  // private
            || (a == 192 && b == 0 && address[2] == 0)  // 192.0.0.0/24 protocol assignments
            || (a == 198 && b & 0xFE == 18)  // 198.18.0.0/15 benchmarking
    }

    /// Every address `host` resolves to (an address literal is itself); nil when the lookup
    /// takes longer than `limit` (it cannot be cancelled: its thread finishes it unheard).
    static func resolve(_ host: String, within limit: Duration) async -> [[UInt8]]? {
        let answered = FirstAnswer()
        return await withCheckedContinuation { continuation in
            let answer: @Sendable ([[UInt8]]?) -> Void = { found in
                if answered.claim() { continuation.resume(returning: found) }
            }
            DispatchQueue.global().async { answer(addresses(of: host)) }
            let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { answer(nil) }
        }
    }

    private static func addresses(of host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var found: [[UInt8]] = []
        var entry = list
        while let info = entry?.pointee {
            if info.ai_family == AF_INET, let address = info.ai_addr {
                address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    var ip = $0.pointee.sin_addr
                    found.append(withUnsafeBytes(of: &ip) { Array($0) })
                }
            } else if info.ai_family == AF_INET6, let address = info.ai_addr {
                address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    var ip = $0.pointee.sin6_addr
                    found.append(withUnsafeBytes(of: &ip) { Array($0) })
                }
            }
            entry = info.ai_next
        }
        return found
    }

    private static func text(of address: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = address.count == 4 ? AF_INET : AF_INET6
        _ = address.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Lets the first of two racing callbacks answer (the lookup or its deadline).
private final class FirstAnswer: Sendable {
    private let answered = Mutex(false)

    func claim() -> Bool {
        answered.withLock { done in
            defer { done = true }
            return !done
        }
    }
}
