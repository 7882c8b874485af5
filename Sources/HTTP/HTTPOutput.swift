import CLinux
import Glibc

/// A response on its way out of one connection: its head, encoded for this connection, and its
/// body as the handler returned it, never copied. Arrays are shared until written to, so a
/// document many connections are sent at once (`/openapi.yaml`) stays one buffer however many
/// of them wait to write it. Head and body still leave in one system call (`sendmsg` with two
/// pieces), as they did when they were one buffer.
struct HTTPOutput {
    /// What one ``write(to:)`` achieved.
    enum Outcome {
        /// All of it is written.
        case done
        /// The socket's buffer is full; `progressed` tells whether any byte left this time.
        case blocked(progressed: Bool)
        /// The peer is gone (or another error): nothing more can be written.
        case failed
    }

    private(set) var head: [UInt8] = []
    private(set) var body: [UInt8] = []
    /// Bytes of head, then body, written so far.
    private var written = 0

    init() {}

    init(head: [UInt8], body: [UInt8]) {
        self.head = head
        self.body = body
    }

    var isEmpty: Bool { written == head.count + body.count }

    /// What this connection alone holds: the head's buffer. The body may be shared, so it is
    /// charged apart (``HTTPPendingBodies``).
    var ownBytes: Int { head.capacity }

    /// Writes as much as the socket takes, without blocking.
    mutating func write(to fd: Int32) -> Outcome {
        var progressed = false
        while !isEmpty {
            let count = send(fd)
            if count > 0 {
                written += count
                progressed = true
            } else if count < 0, errno == EINTR {
                continue
            } else if count < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                return .blocked(progressed: progressed)
            } else {
                return .failed
            }
        }
        return .done
    }

    /// One `sendmsg` of what is left of the head and of the body.
    private func send(_ fd: Int32) -> Int {
        let headLeft = max(0, head.count - written)
        let bodyStart = max(0, written - head.count)
        return head.withUnsafeBytes { headBytes in
            body.withUnsafeBytes { bodyBytes in
                var pieces = (
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: headBytes.baseAddress.map { $0 + (head.count - headLeft) }),
                          iov_len: headLeft),
                    iovec(iov_base: UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress.map { $0 + bodyStart }),
                          iov_len: body.count - bodyStart))
                return withUnsafeMutableBytes(of: &pieces) { raw in
                    var message = msghdr()
                    message.msg_iov = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                    message.msg_iovlen = 2
                    return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                }
            }
        }
    }
}

/// The response bodies one loop's connections are stalled writing, each charged to the budget
/// once however many connections share it (a static document sent to many clients that do
/// not read): a connection cannot tell whether it is a body's only holder, the loop can, by
/// the address of its storage, which stays put while any holder keeps the array.
struct HTTPPendingBodies {
    private var holders: [UnsafeRawPointer: Int] = [:]

    /// Notes one more holder of `body`; returns the bytes to charge (the body's size for its
    /// first holder, else nothing).
    mutating func retain(_ body: [UInt8]) -> Int {
        guard let key = Self.key(body) else { return 0 }
        let count = holders[key, default: 0] + 1
        holders[key] = count
        return count == 1 ? body.count : 0
    }

    /// Notes one holder fewer; returns the bytes to release (the body's size when it was the last).
    mutating func release(_ body: [UInt8]) -> Int {
        guard let key = Self.key(body), let count = holders[key] else { return 0 }
        if count > 1 {
            holders[key] = count - 1
            return 0
        }
        holders.removeValue(forKey: key)
        return body.count
    }

    /// Whether `body` has holders other than one.
    func isShared(_ body: [UInt8]) -> Bool {
        Self.key(body).flatMap { holders[$0] }.map { $0 > 1 } ?? false
    }

    private static func key(_ body: [UInt8]) -> UnsafeRawPointer? {
        body.isEmpty ? nil : body.withUnsafeBytes { $0.baseAddress }
    }
}
