import Glibc

/// A system call made by the reactor failed; carries the call's name and `errno`.
public struct ReactorError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32

    public var description: String {
        "\(operation) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }
}
