import NIOConcurrencyHelpers

/// The daemon's `TrafficHistory`, ticked once a second by the admin server's event loop and read by the admin API.
public final class HistoryRecorder: Sendable {
    /// Seconds between ticks.
    static let intervalSeconds = 1
    private let history = NIOLockedValueBox(TrafficHistory())

    init() {}

    /// Reads every running service's counters and records one tick at `wallMs`.
    func tick(services: [String: ServiceRuntime], atMs wallMs: Int64) {
        // Only the three counters the history keeps, not a whole ServiceSnapshot: that reads the breaker through
        // `breakerNow`, which advances it and logs transitions; a tick every second must not change when they happen.
        let totals = services.mapValues { service in
            let counters = service.counters
            return TrafficHistory.Totals(
                requests: counters.requests.load(ordering: .relaxed),
                errors: counters.responsesByClass[4].load(ordering: .relaxed),
                latency: counters.latency.snapshot())
        }
        self.history.withLockedValue { $0.record(atMs: wallMs, totals: totals) }
    }

    /// A copy to render from.
    var current: TrafficHistory { self.history.withLockedValue { $0 } }
}
