import Logging
import NIOConcurrencyHelpers

/// Writes per-request upstream failures to the log through a `FailureLogAggregator`: the first of each service,
/// endpoint and code at once, the rest as one count per interval (docs/operations.md).
final class FailureLog: Sendable {
    private let aggregator: NIOLockedValueBox<FailureLogAggregator>
    private let clock: any MillisecondClock
    private let logger: Logger

    init(logger: Logger, clock: any MillisecondClock = SystemMillisecondClock(), intervalMs: Int64 = 10_000) {
        self.logger = logger
        self.clock = clock
        self.aggregator = NIOLockedValueBox(FailureLogAggregator(intervalMs: intervalMs))
    }

    /// Records one failed try; logs it when it is the first of its group.
    func record(_ error: OutriggerError, service: String, endpoint: String, requestID: String, try number: Int) {
        let key = FailureLogAggregator.Key(service: service, endpoint: endpoint, code: error.code)
        let now = self.clock.nowMs()
        guard self.aggregator.withLockedValue({ $0.record(key, nowMs: now) }) else { return }
        self.logger.warning(
            "upstream failure",
            metadata: [
                "error.code": "\(error.code.rawValue)", "error.detail": "\(error.detail ?? "")",
                "service": "\(service)", "endpoint": "\(endpoint)", "request_id": "\(requestID)",
                "try": "\(number)",
                "note": "further failures like this one are counted and logged once per interval",
            ])
    }

    /// Logs the counts that are due; called about once a second, and with `final` at shutdown.
    func flush(final: Bool = false) {
        let now = self.clock.nowMs()
        let summaries = self.aggregator.withLockedValue { $0.flush(nowMs: now, final: final) }
        for summary in summaries {
            self.logger.warning(
                "upstream failures repeated",
                metadata: [
                    "error.code": "\(summary.key.code.rawValue)", "service": "\(summary.key.service)",
                    "endpoint": "\(summary.key.endpoint)", "count": "\(summary.count)",
                    "interval_ms": "\(summary.overMs)",
                ])
        }
    }
}
