/// State that belongs to one ``EventLoop``: only that loop's thread may read or change it,
/// and debug builds (the tests' builds) trap on any other thread's access.
///
/// This is the one audited `@unchecked Sendable` a loop-confined class needs: rather than
/// declaring the whole class `@unchecked Sendable` and trusting every method to run on the
/// right thread, a class keeps its mutable state in a `LoopBound` and every access is checked
/// (the way swift-nio's `NIOLoopBoundBox` does it).
///
/// ```swift
/// final class Connection: Sendable {
///     private struct State { var buffered = 0 }
///     private let state: LoopBound<State>
///     init(loop: EventLoop) { state = LoopBound(State(), on: loop) }
///     func onReadable() { state.value.buffered += 1 }   // traps in debug off the loop
/// }
/// ```
public final class LoopBound<Value>: @unchecked Sendable {
    /// The loop whose thread owns the value.
    public let loop: EventLoop
    @usableFromInline var storage: Value

    /// Creating the box is allowed anywhere: no other thread can see it yet.
    public init(_ value: Value, on loop: EventLoop) {
        self.loop = loop
        storage = value
    }

    /// The value; only on ``loop``'s thread (checked in debug builds). Inlinable, so a release
    /// build accesses the stored value directly, as if it were the owner's own property.
    @inlinable
    public var value: Value {
        _read {
            assert(loop.inEventLoop, "LoopBound state read off its event loop's thread")
            yield storage
        }
        _modify {
            assert(loop.inEventLoop, "LoopBound state changed off its event loop's thread")
            yield &storage
        }
    }

    /// The value without the thread check, for the few places that run provably alone
    /// (a `deinit`, or after the loop has stopped and its thread has exited). Say why at each use.
    @inlinable
    public var unsafeUncheckedValue: Value {
        _read { yield storage }
        _modify { yield &storage }
    }
}
