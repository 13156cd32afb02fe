import Foundation
import Testing

@testable import OutriggerCore

/// The `/metrics` text, compared byte for byte with a reviewed golden file.
@Suite("Prometheus rendering")
struct PrometheusRendererTests {
    static func snapshot() -> PrometheusRenderer.Snapshot {
        var counts = Array(repeating: 0, count: LatencyHistogram.boundsMs.count + 1)
        counts[2] = 3  // three requests of at most 1 ms
        counts[9] = 1  // one of at most 25 ms
        let latency = LatencyHistogram.Snapshot(counts: counts, sumMs: 22.5, maxMs: 20)
        let orders = PrometheusRenderer.Service(
            name: "orders", requests: 4, responsesByClass: [0, 3, 0, 0, 1],
            errors: [("upstream_reset", 1), ("breaker_open", 0)], failedTries: [("upstream_reset", 2)], retries: 1,
            budgetExhausted: 0,
            breakerRejections: 0, overloaded: 0, inFlight: 2, ejections: 0, breakerState: .halfOpen,
            breakerTransitions: 2, latency: latency, faults: [("delay", 0), ("abort", 3), ("reset", 0)])
        return PrometheusRenderer.Snapshot(
            uptimeSeconds: 12.5, ready: true, openConnections: 3, totalConnections: 10, refusedConnections: 1,
            upgradedOpen: 1, upgradedTotal: 2, requests: 4, accessLogDropped: 0, reloads: 1, failedReloads: 0,
            services: [orders],
            tls: TLSCounts(handshakes: 5, failures: [("no_client_certificate", 2), ("not_tls", 0)]))
    }

    @Test func metrics_matchTheGoldenFile() throws {
        if ProcessInfo.processInfo.environment["OUTRIGGER_UPDATE_GOLDEN"] == "1" {
            // Regenerate after a deliberate change, then review the diff: `OUTRIGGER_UPDATE_GOLDEN=1 swift test`.
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures/metrics.golden")
            try PrometheusRenderer.render(Self.snapshot()).write(to: source, atomically: true, encoding: .utf8)
        }
        let golden = try String(
            contentsOf: Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(
                "metrics.golden"), encoding: .utf8)
        #expect(PrometheusRenderer.render(Self.snapshot()) == golden)
    }

    @Test func histogram_percentiles_interpolateWithinBuckets() {
        let histogram = LatencyHistogram()
        for _ in 0..<90 { histogram.record(milliseconds: 4) }
        for _ in 0..<10 { histogram.record(milliseconds: 200) }
        let snapshot = histogram.snapshot()
        #expect(snapshot.count == 100)
        #expect((3...5).contains(snapshot.percentile(0.5)))
        #expect((150...250).contains(snapshot.percentile(0.99)))
        #expect(snapshot.maxMs == 200)
        #expect(LatencyHistogram().snapshot().percentile(0.5) == 0)
    }
}
