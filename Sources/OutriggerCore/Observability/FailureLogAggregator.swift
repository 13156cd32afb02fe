/// Decides which per-request upstream failures reach the log, so an outage writes a handful of lines instead of
/// one per request (docs/operations.md).
///
/// Failures are grouped by service, endpoint and error code. The first failure of a group is logged at once, with
/// its detail, so an operator sees it without delay; the following ones within `intervalMs` are only counted, and
/// `flush` reports each group's count once per interval. A group with nothing to report is forgotten, so the next
/// failure after a quiet interval is logged at once again. A pure value on an injected clock: the owner keeps it
/// under a lock and writes what it returns. Breaker transitions, ejections and reloads are logged elsewhere, one
/// by one; the access log and `/stats` still count every failure.
public struct FailureLogAggregator: Sendable {
    /// What the failures of one group share.
    public struct Key: Hashable, Sendable {
        public var service: String
        public var endpoint: String
        public var code: OutriggerError.Code

        public init(service: String, endpoint: String, code: OutriggerError.Code) {
            self.service = service
            self.endpoint = endpoint
            self.code = code
        }
    }

    /// A line summing up the failures of a group that were not logged one by one.
    public struct Summary: Sendable, Equatable {
        public var key: Key
        /// Failures counted since the group's last line.
        public var count: Int
        /// Over how long, in milliseconds.
        public var overMs: Int64
    }

    private struct Group: Sendable {
        var since: Int64
        var suppressed: Int
    }

    /// How often a group's count is reported.
    public let intervalMs: Int64
    private var groups: [Key: Group] = [:]
    private var order: [Key] = []

    /// An aggregator reporting every `intervalMs`.
    public init(intervalMs: Int64 = 10_000) {
        self.intervalMs = intervalMs
    }

    /// Records one failure; true when it is the first of its group and must be logged now.
    public mutating func record(_ key: Key, nowMs: Int64) -> Bool {
        if var group = self.groups[key] {
            group.suppressed += 1
            self.groups[key] = group
            return false
        }
        self.groups[key] = Group(since: nowMs, suppressed: 0)
        self.order.append(key)
        return true
    }

    /// The summaries due: one per group with failures counted but not logged, whose interval has passed. Groups
    /// with nothing counted for a whole interval are forgotten. `final` reports every count now (at shutdown).
    public mutating func flush(nowMs: Int64, final: Bool = false) -> [Summary] {
        var summaries: [Summary] = []
        var kept: [Key] = []
        for key in self.order {
            guard var group = self.groups[key] else { continue }
            guard final || nowMs - group.since >= self.intervalMs else {
                kept.append(key)
                continue
            }
            if group.suppressed == 0 {
                self.groups[key] = nil
                continue
            }
            summaries.append(Summary(key: key, count: group.suppressed, overMs: nowMs - group.since))
            group.since = nowMs
            group.suppressed = 0
            self.groups[key] = group
            kept.append(key)
        }
        self.order = kept
        return summaries
    }
}
