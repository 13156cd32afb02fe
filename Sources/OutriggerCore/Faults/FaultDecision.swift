/// What happens to one try under a fault policy (SPEC §11): decided when the try starts, independently per try.
struct FaultDecision: Equatable {
    /// Milliseconds to hold the try before it goes on (or before the abort or reset below).
    var delayMs: Int64 = 0
    /// What the try ends as instead of reaching the upstream.
    var outcome: Outcome = .proceed

    enum Outcome: Equatable {
        /// The try goes to the upstream (after the delay, if any).
        case proceed
        /// The try is answered with this status.
        case abort(Int)
        /// The try fails as `upstream_reset`.
        case reset
    }

    /// Nothing injected.
    var isNone: Bool { self.delayMs == 0 && self.outcome == .proceed }

    /// The kinds applied, in the order they act, for `x-outrigger-fault`, the counts and the access log.
    var kinds: [FaultKind] {
        var kinds: [FaultKind] = []
        if self.delayMs > 0 { kinds.append(.delay) }
        switch self.outcome {
        case .proceed: break
        case .abort: kinds.append(.abort)
        case .reset: kinds.append(.reset)
        }
        return kinds
    }

    /// The `x-outrigger-fault` value: the kinds applied, comma-separated.
    var headerValue: String { self.kinds.map(\.rawValue).joined(separator: ",") }

    /// A request's own fault headers, when the service allows them (they apply to every try of the request).
    struct Requested: Equatable {
        var delayMs: Int64?
        var abortStatus: Int?
    }

    /// Decides one try. `roll` returns a uniform value in [0, 100) and is called once per configured fault kind, so
    /// the kinds are independent. The request's own fault headers apply in full and take precedence.
    static func decide(
        _ policy: FaultPolicy, requested: Requested?, roll: () -> Double
    ) -> FaultDecision {
        var decision = FaultDecision()
        if let delay = policy.delay, roll() < delay.percent { decision.delayMs = delay.durationMs }
        if let abort = policy.abort, roll() < abort.percent {
            decision.outcome = .abort(abort.status)
        } else if let reset = policy.reset, roll() < reset.percent {
            decision.outcome = .reset
        }
        if let requested {
            if let delay = requested.delayMs { decision.delayMs = delay }
            if let status = requested.abortStatus { decision.outcome = .abort(status) }
        }
        return decision
    }

    /// Reads `x-outrigger-fault-delay-ms` and `x-outrigger-fault-abort`; nil when the request asks for neither.
    /// Values that are not a sane delay (0 to 1 hour) or a final status (200 to 599) are ignored.
    static func requested(delayHeader: String?, abortHeader: String?) -> Requested? {
        var requested = Requested()
        if let text = delayHeader, let value = Int64(text.trimmingWhitespace), (0...3_600_000).contains(value) {
            requested.delayMs = value
        }
        if let text = abortHeader, let value = Int(text.trimmingWhitespace), (200...599).contains(value) {
            requested.abortStatus = value
        }
        return requested.delayMs == nil && requested.abortStatus == nil ? nil : requested
    }
}
