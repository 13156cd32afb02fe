import Testing

@testable import OutriggerCore

/// Per-request upstream failures reach the log as a handful of lines (docs/operations.md), on an explicit clock.
@Suite("Failure log aggregation")
struct FailureLogAggregatorTests {
    static let key = FailureLogAggregator.Key(service: "svc", endpoint: "127.0.0.1:1", code: .upstreamConnectFailed)

    @Test func aHundredFailures_giveOneLineAndOneCount() {
        var aggregator = FailureLogAggregator(intervalMs: 10_000)
        let logged = (0..<100).filter { aggregator.record(Self.key, nowMs: Int64($0)) }.count
        #expect(logged == 1)
        let result1 = aggregator.flush(nowMs: 5_000)
        #expect(result1.isEmpty, "a count is reported once per interval, not sooner")
        let summaries = aggregator.flush(nowMs: 10_000)
        #expect(summaries == [.init(key: Self.key, count: 99, overMs: 10_000)])
        // Quiet for an interval: forgotten, so the next failure is logged at once again.
        let result2 = aggregator.flush(nowMs: 20_000)
        #expect(result2.isEmpty)
        let result3 = aggregator.record(Self.key, nowMs: 20_001)
        #expect(result3)
    }

    @Test func groups_areByServiceEndpointAndCode() {
        var aggregator = FailureLogAggregator(intervalMs: 1000)
        var other = Self.key
        other.code = .upstreamReset
        var elsewhere = Self.key
        elsewhere.endpoint = "127.0.0.1:2"
        let result4 = aggregator.record(Self.key, nowMs: 0)
        #expect(result4)
        let result5 = aggregator.record(other, nowMs: 0)
        #expect(result5)
        let result6 = aggregator.record(elsewhere, nowMs: 0)
        #expect(result6)
        let result7 = aggregator.record(other, nowMs: 1)
        #expect(!result7)
        let result8 = aggregator.flush(nowMs: 0, final: true)
        #expect(result8 == [.init(key: other, count: 1, overMs: 0)])
    }
}
