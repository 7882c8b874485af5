import Glibc

/// Nanoseconds on the monotonic clock: the time base of every deadline in the event loop.
public enum MonotonicClock {
    /// The current monotonic time in nanoseconds.
    @inline(__always)
    public static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// The monotonic time `duration` from now, saturating instead of overflowing.
    public static func deadline(after duration: Duration) -> UInt64 {
        let sum = now().addingReportingOverflow(nanoseconds(duration))
        return sum.overflow ? .max : sum.partialValue
    }

    /// `duration` in nanoseconds: 0 for negative durations, `UInt64.max` past its range.
    public static func nanoseconds(_ duration: Duration) -> UInt64 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        let nanos = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if nanos.overflow { return .max }
        let total = nanos.partialValue.addingReportingOverflow(UInt64(attoseconds / 1_000_000_000))
        return total.overflow ? .max : total.partialValue
    }
}
