/// Caps retries at a share of a service's requests over a rolling window (SPEC §5 `budget_percent`), with a floor
/// of a few retries per window so a quiet service can still retry at all. In an outage, retries can never multiply
/// the load by more than `1 + budget_percent/100`.
public struct RetryBudget: Sendable {
    /// Retries always allowed per window, whatever the traffic.
    public static let floor = 3

    private let percent: Int
    private var requests: RollingWindow
    private var retries: RollingWindow

    /// A budget of `percent` % over `windowMs`.
    public init(percent: Int, windowMs: Int64) {
        self.percent = percent
        self.requests = RollingWindow(windowMs: windowMs)
        self.retries = RollingWindow(windowMs: windowMs)
    }

    /// Counts one original request (not a retry).
    public mutating func recordRequest(nowMs: Int64) {
        self.requests.record(nowMs: nowMs, failed: false)
    }

    /// Takes one retry from the budget; false when it is spent.
    public mutating func tryRetry(nowMs: Int64) -> Bool {
        let requests = self.requests.totals(nowMs: nowMs).requests
        let retries = self.retries.totals(nowMs: nowMs).requests
        let allowed = max(Self.floor, requests * self.percent / 100)
        guard retries < allowed else { return false }
        self.retries.record(nowMs: nowMs, failed: false)
        return true
    }
}

/// Jittered exponential backoff starting at 25 ms (SPEC §5): try n waits a random time in
/// [base/2, base] with base = 25 ms × 2^(n-1), capped at 1 s.
public enum Backoff {
    /// The first base delay.
    public static let initialMs: Int64 = 25
    /// The largest base delay.
    public static let maximumMs: Int64 = 1000

    /// Delay before retry number `retry` (1 for the first retry).
    public static func delayMs<G: RandomNumberGenerator>(retry: Int, using generator: inout G) -> Int64 {
        let exponent = min(max(retry - 1, 0), 10)
        let base = min(Self.maximumMs, Self.initialMs << Int64(exponent))
        return Int64.random(in: (base / 2)...base, using: &generator)
    }
}
