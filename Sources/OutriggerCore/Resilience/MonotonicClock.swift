import NIOCore

/// Milliseconds on a monotonic clock; injected so breaker, ejection and budget tests need no sleeping.
public protocol MillisecondClock: Sendable {
    /// Now, in milliseconds since an arbitrary fixed point.
    func nowMs() -> Int64
}

/// The process's monotonic clock.
public struct SystemMillisecondClock: MillisecondClock {
    /// Creates the clock.
    public init() {}

    public func nowMs() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }
}
