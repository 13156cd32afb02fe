import Testing

@testable import OutriggerCore

@Suite("The traffic history behind /history, the status table and the page (SPEC §14)")
struct TrafficHistoryTests {
    /// Totals after `fast` requests of 1 ms and `slow` of 400 ms, `errors` of them 5xx.
    static func totals(fast: Int, slow: Int = 0, errors: Int = 0) -> TrafficHistory.Totals {
        let histogram = LatencyHistogram()
        for _ in 0..<fast { histogram.record(milliseconds: 1) }
        for _ in 0..<slow { histogram.record(milliseconds: 400) }
        return .init(requests: fast + slow, errors: errors, latency: histogram.snapshot())
    }

    @Test func eachTickIsTheDifferenceFromTheOneBefore() {
        var history = TrafficHistory(capacity: 5, recentTicks: 2)
        history.record(atMs: 1000, totals: ["a": Self.totals(fast: 10)])
        history.record(atMs: 2000, totals: ["a": Self.totals(fast: 30, errors: 4)])
        history.record(atMs: 3000, totals: ["a": Self.totals(fast: 30, errors: 4)])
        history.record(atMs: 4000, totals: ["a": Self.totals(fast: 30, slow: 100, errors: 54)])
        let samples = history.samples(of: "a")
        #expect(samples.map(\.requests) == [0, 20, 0, 100])
        #expect(samples.map(\.errors) == [0, 4, 0, 50])
        #expect(samples[2].p99Ms == nil)
        #expect(samples[1].p99Ms.map { $0 <= 1 } == true)
        // Only the 400 ms requests ended in the last tick: its p99 is theirs, not the cumulative one's.
        #expect(samples[3].p99Ms.map { $0 > 250 && $0 <= 500 } == true)
        #expect(history.tickTimesMs == [1000, 2000, 3000, 4000])
    }

    @Test func recentRatesCoverTheLastTicksOnly() throws {
        var history = TrafficHistory(capacity: 10, recentTicks: 2)
        #expect(history.recent(of: "a") == nil)
        history.record(atMs: 0, totals: ["a": Self.totals(fast: 1000, errors: 1000)])
        #expect(history.recent(of: "a") == nil)
        history.record(atMs: 1000, totals: ["a": Self.totals(fast: 1010, errors: 1000)])
        history.record(atMs: 2000, totals: ["a": Self.totals(fast: 1030, errors: 1003)])
        let recent = try #require(history.recent(of: "a"))
        #expect(recent.seconds == 2)
        #expect(recent.requestsPerSecond == 15)
        #expect(recent.errorShare == 0.1)
        history.record(atMs: 3000, totals: ["a": Self.totals(fast: 1030, errors: 1003)])
        history.record(atMs: 4000, totals: ["a": Self.totals(fast: 1030, errors: 1003)])
        let idle = try #require(history.recent(of: "a"))
        #expect(idle.requestsPerSecond == 0)
        #expect(idle.errorShare == nil)
        #expect(idle.p99Ms == nil)
    }

    @Test func theRingIsBoundedAndForgetsServicesThatWent() {
        var history = TrafficHistory(capacity: 3, recentTicks: 1)
        for tick in 0..<10 {
            history.record(
                atMs: Int64(tick) * 1000,
                totals: ["a": Self.totals(fast: tick * 2), "b": Self.totals(fast: tick)])
        }
        #expect(history.tickTimesMs == [7000, 8000, 9000])
        #expect(history.samples(of: "a").map(\.requests) == [2, 2, 2])
        history.record(atMs: 10_000, totals: ["a": Self.totals(fast: 20)])
        #expect(history.samples(of: "b").isEmpty)
        // A service that appears mid-way starts with an empty tick, aligned with the others' latest ones.
        history.record(atMs: 11_000, totals: ["a": Self.totals(fast: 22), "c": Self.totals(fast: 7)])
        #expect(history.samples(of: "c").map(\.requests) == [0])
    }

    @Test func aServiceReplacedUnderTheSameNameCountsFromZero() {
        var history = TrafficHistory(capacity: 3, recentTicks: 1)
        history.record(atMs: 0, totals: ["a": Self.totals(fast: 50)])
        history.record(atMs: 1000, totals: ["a": Self.totals(fast: 5)])
        #expect(history.samples(of: "a").last?.requests == 5)
    }
}
