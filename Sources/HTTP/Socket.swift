import CLinux
import Glibc

/// Thin wrappers over the POSIX socket calls the server makes, each failing with ``SocketError``.
enum Socket {
    /// A non-blocking TCP socket listening on `host:port`. `host` `::` listens on IPv6 and, where
    /// the kernel allows it (`IPV6_V6ONLY` off), IPv4 too; `0.0.0.0` on IPv4 only. With
    /// `SO_REUSEPORT`, several sockets may share one port and the kernel spreads new
    /// connections across them: one per event loop.
    static func listen(host: String, port: Int, backlog: Int32 = 4096) throws(SocketError) -> Int32 {
        var address = try SocketAddress(host: host, port: port)
        let fd = Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", errno: errno) }
        do throws(SocketError) {
            try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
            if address.family == AF_INET6 { try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0) }
            let bound = address.withSockAddr { bind(fd, $0, $1) }
            guard bound == 0 else { throw SocketError(operation: "bind \(host):\(port)", errno: errno) }
            guard Glibc.listen(fd, backlog) == 0 else { throw SocketError(operation: "listen", errno: errno) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// The port a listening socket is bound to (the kernel's pick when asked for port 0).
    static func localPort(_ fd: Int32) throws(SocketError) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw SocketError(operation: "getsockname", errno: errno) }
        return SocketAddress(storage: storage).port
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SocketError) {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw SocketError(operation: "setsockopt \(name)", errno: errno)
        }
    }
}

/// An IPv4 or IPv6 socket address.
struct SocketAddress {
    private var storage: sockaddr_storage

    init(storage: sockaddr_storage) {
        self.storage = storage
    }

    /// A numeric address (`::`, `0.0.0.0`, `127.0.0.1`, `::1`) or `localhost`.
    init(host: String, port: Int) throws(SocketError) {
        storage = sockaddr_storage()
        let name = host == "localhost" ? "127.0.0.1" : host
        var v4 = in_addr()
        var v6 = in6_addr()
        guard (0...65535).contains(port) else { throw SocketError(operation: "port \(port)", errno: EINVAL) }
        if inet_pton(AF_INET, name, &v4) == 1 {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    $0.pointee.sin_family = sa_family_t(AF_INET)
                    $0.pointee.sin_port = in_port_t(UInt16(port).bigEndian)
                    $0.pointee.sin_addr = v4
                }
            }
        } else if inet_pton(AF_INET6, name, &v6) == 1 {
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    $0.pointee.sin6_family = sa_family_t(AF_INET6)
                    $0.pointee.sin6_port = in_port_t(UInt16(port).bigEndian)
                    $0.pointee.sin6_addr = v6
                }
            }
        } else {
            throw SocketError(operation: "parse address \(host)", errno: EINVAL)
        }
    }

    var family: Int32 { Int32(storage.ss_family) }

    var port: Int {
        var copy = storage
        return withUnsafePointer(to: &copy) { pointer in
            if family == AF_INET {
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
        }
    }

    /// The address as text; an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) shows as IPv4.
    var text: String {
        var copy = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        withUnsafePointer(to: &copy) { pointer in
            if family == AF_INET {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    var address = $0.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
                }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    var address = $0.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
                }
            }
        }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("::ffff:"), text.contains(".") { return String(text.dropFirst(7)) }
        return text
    }

    mutating func withSockAddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
        return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) } }
    }
}

/// A socket call failed; carries the call and `errno`.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let errno: Int32

    public var description: String {
        "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
