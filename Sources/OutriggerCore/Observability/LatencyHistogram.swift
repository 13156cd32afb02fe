import Atomics

/// Request durations in fixed log-spaced buckets, lock-free (SPEC §7): recording is a few relaxed atomic adds,
/// so the hot path takes no lock. Percentiles are estimated by interpolating inside the bucket that holds them.
public final class LatencyHistogram: Sendable {
    /// Upper bounds of the buckets, in milliseconds; a last implicit bucket holds everything above.
    public static let boundsMs: [Double] = [
        0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 75, 100, 150, 250, 500, 750, 1000, 1500, 2500, 5000, 10_000, 30_000,
        60_000,
    ]

    private let buckets: [ManagedAtomic<Int>] = (0...LatencyHistogram.boundsMs.count).map { _ in ManagedAtomic(0) }
    private let sumMicros = ManagedAtomic<Int>(0)
    private let maxMicros = ManagedAtomic<Int>(0)

    /// An empty histogram.
    public init() {}

    /// Records one duration.
    public func record(milliseconds: Double) {
        let index = Self.boundsMs.firstIndex { milliseconds <= $0 } ?? Self.boundsMs.count
        self.buckets[index].wrappingIncrement(ordering: .relaxed)
        let micros = Int(milliseconds * 1000)
        self.sumMicros.wrappingIncrement(by: micros, ordering: .relaxed)
        var current = self.maxMicros.load(ordering: .relaxed)
        while micros > current {
            let (exchanged, original) = self.maxMicros.compareExchange(
                expected: current, desired: micros, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    /// A consistent-enough copy for rendering.
    public func snapshot() -> Snapshot {
        Snapshot(
            counts: self.buckets.map { $0.load(ordering: .relaxed) },
            sumMs: Double(self.sumMicros.load(ordering: .relaxed)) / 1000,
            maxMs: Double(self.maxMicros.load(ordering: .relaxed)) / 1000)
    }

    /// The histogram's numbers at one moment.
    public struct Snapshot: Sendable, Equatable {
        /// Per bucket (not cumulative), the last one being "above every bound".
        public var counts: [Int]
        /// Sum of all durations.
        public var sumMs: Double
        /// Largest duration seen.
        public var maxMs: Double

        /// Number of durations recorded.
        public var count: Int { self.counts.reduce(0, +) }

        /// The estimated `quantile` (0...1) in milliseconds; 0 when empty.
        public func percentile(_ quantile: Double) -> Double {
            let total = self.count
            guard total > 0 else { return 0 }
            let rank = quantile * Double(total)
            var seen = 0
            for (index, count) in self.counts.enumerated() where count > 0 {
                if Double(seen + count) >= rank {
                    let lower = index == 0 ? 0 : LatencyHistogram.boundsMs[index - 1]
                    let upper = index < LatencyHistogram.boundsMs.count ? LatencyHistogram.boundsMs[index] : self.maxMs
                    let within = (rank - Double(seen)) / Double(count)
                    return min(self.maxMs, lower + (upper - lower) * max(0, min(1, within)))
                }
                seen += count
            }
            return self.maxMs
        }
    }
}
