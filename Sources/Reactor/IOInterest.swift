import CLinux

/// The readiness a file descriptor registered with an ``EventLoop`` is watched for.
public struct IOInterest: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Readable, or the peer closed its side.
    public static let read = IOInterest(rawValue: 1)
    /// Writable without blocking.
    public static let write = IOInterest(rawValue: 2)
    /// Only that the peer closed its side (`EPOLLRDHUP`), not that data arrived: for a socket
    /// whose input is deliberately left unread, which must still notice its client leave.
    public static let peerClosed = IOInterest(rawValue: 4)

    /// The epoll event mask for this interest. Errors and hang-ups are always reported by epoll.
    var epollMask: UInt32 {
        var mask: UInt32 = 0
        if contains(.read) { mask |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if contains(.write) { mask |= EPOLLOUT.rawValue }
        if contains(.peerClosed) { mask |= EPOLLRDHUP.rawValue }
        return mask
    }
}

/// What epoll reported for a file descriptor in one wake-up.
public struct IOEvents: Sendable {
    public let readable: Bool
    public let writable: Bool
    /// Both directions are gone or the socket is in an error state (`EPOLLHUP`/`EPOLLERR`,
    /// reported even with no interest). A peer that only stopped sending shows as `readable`.
    public let hangup: Bool

    init(epollMask mask: UInt32) {
        readable = mask & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
        writable = mask & (EPOLLOUT.rawValue | EPOLLERR.rawValue) != 0
        hangup = mask & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0
    }
}
