import Foundation
import Glibc

/// A blocking TCP client that speaks HTTP/1.1 byte by byte, so tests control exactly what goes on
/// the wire (pipelining, partial writes, malformed requests) and read exactly what comes back.
public final class RawHTTPClient {
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]

        public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// The body as a JSON object.
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        }
    }

    public struct ClientError: Error, CustomStringConvertible {
        public let description: String
    }

    public let fd: Int32
    private var pending: [UInt8] = []

    /// Connects to `host:port` (IPv4 or IPv6 literal); reads time out after `timeout` seconds.
    /// `slowReader` makes a client that does not read hold the server's response back as a
    /// remote one would: a 4 KiB `SO_RCVBUF` and an Internet-sized segment (`TCP_MAXSEG` 1460),
    /// without which loopback's 64 KiB segments let the server's kernel take megabytes at once.
    public init(port: Int, host: String = "127.0.0.1", timeout: Double = 5, slowReader: Bool = false) throws {
        let isIPv6 = host.contains(":")
        fd = socket(isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: errno \(errno)") }
        if slowReader {
            var size: Int32 = 4096
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            var segment: Int32 = 1460
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_MAXSEG, &segment, socklen_t(MemoryLayout<Int32>.size))
        }
        var result: Int32
        if isIPv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET6, host, &address.sin6_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, host, &address.sin_addr)
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            close(fd)
            throw ClientError(description: "connect to \(host):\(port): errno \(errno)")
        }
        setTimeout(timeout)
    }

    deinit { close(fd) }

    public func setTimeout(_ seconds: Double) {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw ClientError(description: "send: errno \(errno)") }
            offset += count
        }
    }

    /// Reads one response. `bodyless` for the answer to a HEAD request (no body despite its length).
    public func readResponse(bodyless: Bool = false) throws -> Response {
        let headEnd = try readUntil { buffer in
            buffer.indices.dropLast(3).first { buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10 }
                .map { $0 + 4 }
        }
        let head = String(decoding: pending[..<headEnd], as: UTF8.self)
        pending.removeFirst(headEnd)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else {
            throw ClientError(description: "bad status line in \(head)")
        }
        let headers = lines.map { line -> (String, String) in
            let colon = line.firstIndex(of: ":")!
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        func value(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
        if !bodyless, status >= 200, value("transfer-encoding")?.lowercased() == "chunked" {
            return Response(status: status, headers: headers, body: try readChunkedBody())
        }
        if !bodyless, status >= 200, value("content-length") == nil, value("connection")?.lowercased() == "close" {
            return Response(status: status, headers: headers, body: readAll())  // ended by the close
        }
        let length = bodyless || status < 200 ? 0 : Int(value("content-length") ?? "0") ?? 0
        _ = try readUntil { $0.count >= length ? length : nil }
        let body = Array(pending[..<length])
        pending.removeFirst(length)
        return Response(status: status, headers: headers, body: body)
    }

    /// A chunked body (RFC 9112 §7.1), de-chunked; throws if the connection ends before its
    /// last chunk (a cut response).
    private func readChunkedBody() throws -> [UInt8] {
        var body: [UInt8] = []
        var position = 0
        while true {
            let lineEnd = try readUntil { buffer in
                var index = position
                while index + 1 < buffer.count {
                    if buffer[index] == 13, buffer[index + 1] == 10 { return index }
                    index += 1
                }
                return nil
            }
            let sizeText = String(decoding: pending[position..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText, radix: 16) else { throw ClientError(description: "bad chunk size \(sizeText)") }
            position = lineEnd + 2
            let needed = position + size + 2
            _ = try readUntil { $0.count >= needed ? needed : nil }
            body.append(contentsOf: pending[position..<position + size])
            position = needed
            if size == 0 { break }  // no trailers are sent by the server
        }
        pending.removeFirst(position)
        return body
    }

    /// Ends the request stream (`shutdown(SHUT_WR)`); responses can still be read.
    public func finishSending() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Whether something (bytes, or the end of the stream) is waiting to be read right now.
    public var hasInput: Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return !pending.isEmpty || poll(&descriptor, 1, 0) == 1
    }

    /// True when the server closes the connection within the read timeout without sending more.
    public func readsEndOfStream() -> Bool {
        guard pending.isEmpty else { return false }
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, 0)
        return count == 0 || (count < 0 && errno == ECONNRESET)
    }

    /// Everything the server sends until it closes the connection or the read timeout passes.
    public func readAll() -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { break }
            pending.append(contentsOf: chunk[..<count])
        }
        defer { pending.removeAll() }
        return pending
    }

    private func readUntil(_ complete: ([UInt8]) -> Int?) throws -> Int {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            if let end = complete(pending) { return end }
            let count = recv(fd, &chunk, chunk.count, 0)
            if count == 0 { throw ClientError(description: "connection closed after \(pending.count) bytes") }
            if count < 0 { throw ClientError(description: "recv: errno \(errno) after \(pending.count) bytes") }
            pending.append(contentsOf: chunk[..<count])
        }
    }
}
