/// Request and failure counts over a rolling time window, kept in a fixed number of buckets (SPEC §2 `window`).
///
/// Memory is constant whatever the traffic; a bucket older than the window is reused for the current slice.
public struct RollingWindow: Sendable, Equatable {
    struct Bucket: Sendable, Equatable {
        var slice: Int64 = -1
        var requests = 0
        var failures = 0
    }

    /// Number of buckets the window is split into.
    public static let bucketCount = 10

    private let sliceMs: Int64
    private var buckets: [Bucket]

    /// A window of `windowMs` milliseconds.
    public init(windowMs: Int64) {
        self.sliceMs = max(1, windowMs / Int64(Self.bucketCount))
        self.buckets = Array(repeating: Bucket(), count: Self.bucketCount)
    }

    /// Counts one result at `nowMs`.
    public mutating func record(nowMs: Int64, failed: Bool) {
        let slice = nowMs / self.sliceMs
        let index = Int(slice % Int64(Self.bucketCount))
        if self.buckets[index].slice != slice { self.buckets[index] = Bucket(slice: slice) }
        self.buckets[index].requests += 1
        if failed { self.buckets[index].failures += 1 }
    }

    /// Requests and failures of the buckets still inside the window at `nowMs`.
    public func totals(nowMs: Int64) -> (requests: Int, failures: Int) {
        let current = nowMs / self.sliceMs
        var requests = 0
        var failures = 0
        for bucket in self.buckets where bucket.slice > current - Int64(Self.bucketCount) && bucket.slice <= current {
            requests += bucket.requests
            failures += bucket.failures
        }
        return (requests, failures)
    }

    /// Forgets everything (a breaker closing "with fresh counts").
    public mutating func clear() {
        self.buckets = Array(repeating: Bucket(), count: Self.bucketCount)
    }
}
