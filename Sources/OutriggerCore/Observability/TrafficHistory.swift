/// The last minutes of each service's traffic, one sample per tick (SPEC §14): what `GET /history`, the admin page's
/// charts and `outrigger status` read.
///
/// A pure value: `record` takes the services' cumulative counters at one moment and the wall time, and turns the
/// difference from the previous tick into a sample in a bounded ring. Nothing here reads a clock or a counter, so
/// tests drive it tick by tick.
struct TrafficHistory: Sendable {
    /// A service's cumulative counters at one tick.
    struct Totals: Sendable, Equatable {
        var requests: Int
        /// Answers that count as errors: every 5xx, the upstream's and Outrigger's own.
        var errors: Int
        var latency: LatencyHistogram.Snapshot
    }

    /// One tick of one service.
    struct Sample: Sendable, Equatable {
        var requests: Int
        var errors: Int
        /// The 99th percentile of the requests that ended during the tick, in ms; nil without any.
        var p99Ms: Double?
    }

    /// Rates over the last few ticks (the `recent` window), as the status table shows them.
    struct Recent: Sendable, Equatable {
        var seconds: Double
        var requestsPerSecond: Double
        /// Errors over requests in the window; nil when there were no requests.
        var errorShare: Double?
        var p99Ms: Double?
    }

    /// Ticks kept per service.
    let capacity: Int
    /// Ticks the `recent` rates are taken over.
    let recentTicks: Int
    /// Wall-clock milliseconds of the ticks kept, oldest first (the same ticks for every service).
    private(set) var tickTimesMs: [Int64] = []
    private var rings: [String: [Sample]] = [:]
    /// The totals of the last `recentTicks + 1` ticks, oldest first, for the window's differences.
    private var recentTotals: [String: [Totals]] = [:]

    init(capacity: Int = 300, recentTicks: Int = 10) {
        precondition(capacity > 0 && recentTicks > 0)
        self.capacity = capacity
        self.recentTicks = recentTicks
    }

    /// Takes one tick: `totals` holds every service running now; services gone since the last tick are forgotten.
    /// A service seen for the first time gets samples from its next tick on (it has no earlier totals to subtract).
    mutating func record(atMs now: Int64, totals: [String: Totals]) {
        self.tickTimesMs.append(now)
        if self.tickTimesMs.count > self.capacity {
            self.tickTimesMs.removeFirst(self.tickTimesMs.count - self.capacity)
        }
        for name in self.rings.keys where totals[name] == nil { self.rings[name] = nil }
        for name in self.recentTotals.keys where totals[name] == nil { self.recentTotals[name] = nil }
        for (name, current) in totals {
            var kept = self.recentTotals[name] ?? []
            var ring = self.rings[name] ?? []
            if let previous = kept.last {
                ring.append(Self.difference(current, previous))
            } else {
                // No earlier totals: an empty sample keeps every ring aligned with `tickTimesMs`.
                ring.append(Sample(requests: 0, errors: 0, p99Ms: nil))
            }
            if ring.count > self.capacity { ring.removeFirst(ring.count - self.capacity) }
            kept.append(current)
            if kept.count > self.recentTicks + 1 { kept.removeFirst(kept.count - self.recentTicks - 1) }
            self.rings[name] = ring
            self.recentTotals[name] = kept
        }
    }

    /// A service's samples, oldest first, aligned with the last `samples.count` of `tickTimesMs`.
    func samples(of name: String) -> [Sample] { self.rings[name] ?? [] }

    /// A service's rates over its last `recentTicks` ticks (fewer just after it appeared); nil before two ticks.
    func recent(of name: String) -> Recent? {
        guard let kept = self.recentTotals[name], kept.count >= 2, let first = kept.first, let last = kept.last
        else { return nil }
        let times = self.tickTimesMs.suffix(kept.count)
        guard let start = times.first, let end = times.last, end > start else { return nil }
        let seconds = Double(end - start) / 1000
        let window = Self.difference(last, first)
        return Recent(
            seconds: seconds, requestsPerSecond: Double(window.requests) / seconds,
            errorShare: window.requests > 0 ? min(1, Double(window.errors) / Double(window.requests)) : nil,
            p99Ms: window.p99Ms)
    }

    /// What happened between two totals. Counters never go back while a service runs; if one did (the service
    /// was replaced under the same name), the later totals count from zero.
    static func difference(_ current: Totals, _ previous: Totals) -> Sample {
        let reset = current.requests < previous.requests || current.latency.count < previous.latency.count
        let base =
            reset
            ? Totals(requests: 0, errors: 0, latency: .init(counts: [], sumMs: 0, maxMs: 0)) : previous
        var counts = current.latency.counts
        for index in counts.indices where index < base.latency.counts.count {
            counts[index] = max(0, counts[index] - base.latency.counts[index])
        }
        let interval = LatencyHistogram.Snapshot(counts: counts, sumMs: 0, maxMs: current.latency.maxMs)
        return Sample(
            requests: current.requests - base.requests, errors: max(0, current.errors - base.errors),
            p99Ms: interval.count > 0 ? (interval.percentile(0.99) * 1000).rounded() / 1000 : nil)
    }
}
