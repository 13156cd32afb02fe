/// The circuit breaker of one service (SPEC §5), as a pure state machine.
///
/// Every event takes `nowMs` from the owner's (injectable) monotonic clock and returns what changed; the owner
/// holds it under one lock, logs transitions at warning and acts after unlocking. Results carry the generation of
/// the state that admitted them, so a late result from before a transition never counts after it.
public struct CircuitBreaker: Sendable {
    /// The states of SPEC §5, named as the admin API shows them.
    public enum State: String, Sendable {
        case closed
        case open
        case halfOpen = "half_open"
    }

    /// Proof of admission, handed back with the result.
    public struct Ticket: Sendable, Equatable {
        /// The generation that admitted the request.
        public let generation: UInt64
        /// Whether it is one of half-open's probes.
        public let isProbe: Bool
    }

    /// The answer to a request asking to pass.
    public enum Admission: Sendable, Equatable {
        case admitted(Ticket)
        /// Rejected with `503 breaker_open`; the value is `Retry-After` in whole seconds (at least 1).
        case rejected(retryAfterSeconds: Int)
    }

    /// A failure as kept for the admin API: the *why* of a trip.
    public struct Failure: Sendable, Equatable {
        /// When, on the owner's clock (milliseconds).
        public var atMs: Int64
        /// Which endpoint failed, if one was reached.
        public var endpoint: String?
        /// What failed (shown as `upstream_reset`, `http_503`, ...).
        public var kind: UpstreamFailure
    }

    /// A change of state, with the reason to log.
    public struct Transition: Sendable, Equatable {
        public var from: State
        public var to: State
        /// `consecutive_failures=5`, `failure_rate=0.62 over 24 requests`, `probe failed`, ...
        public var reason: String
    }

    /// How many recent failures are kept.
    public static let failureHistory = 10

    /// The policy it enforces.
    public let policy: BreakerPolicy
    /// The current state (ignoring any forced state).
    public private(set) var state: State = .closed
    /// Incremented on every transition; tickets of older generations are ignored.
    public private(set) var generation: UInt64 = 0
    /// When the current state began.
    public private(set) var sinceMs: Int64
    /// When open turns half-open.
    public private(set) var openUntilMs: Int64?
    /// Failures in a row while closed.
    public private(set) var consecutiveFailures = 0
    /// Results while closed, over the rolling window.
    public private(set) var window: RollingWindow
    /// Probes admitted and not yet answered in half-open.
    public private(set) var probesInFlight = 0
    /// Successful probes in this half-open period.
    public private(set) var probeSuccesses = 0
    /// Times it tripped (closed or half-open to open).
    public private(set) var trips = 0
    /// A state set by an operator (admin API); automatic transitions are suspended while set.
    public private(set) var forced: State?
    /// The last failures, oldest first.
    public private(set) var recentFailures: [Failure] = []
    private var lastProbeAdmittedMs: Int64 = 0

    /// A closed breaker.
    public init(policy: BreakerPolicy, nowMs: Int64) {
        self.policy = policy
        self.sinceMs = nowMs
        self.window = RollingWindow(windowMs: policy.windowMs)
    }

    /// The state requests see: the forced one if any.
    public var effectiveState: State { self.forced ?? self.state }

    // === events ===

    /// Asks to let one request through.
    public mutating func admit(nowMs: Int64) -> (Admission, Transition?) {
        if let forced = self.forced {
            switch forced {
            case .open: return (.rejected(retryAfterSeconds: Self.seconds(self.policy.openForMs)), nil)
            case .closed, .halfOpen: return (.admitted(Ticket(generation: self.generation, isProbe: false)), nil)
            }
        }
        var transition = self.advance(nowMs: nowMs)
        if self.state == .open, let until = self.openUntilMs {
            return (.rejected(retryAfterSeconds: Self.seconds(until - nowMs)), nil)
        }
        switch self.state {
        case .closed:
            return (.admitted(Ticket(generation: self.generation, isProbe: false)), transition)
        case .open:
            return (.rejected(retryAfterSeconds: 1), transition)
        case .halfOpen:
            if self.probesInFlight >= self.policy.halfOpenRequests {
                // A probe whose result never came must not wedge half-open: after open_for, start afresh.
                guard nowMs - self.lastProbeAdmittedMs >= self.policy.openForMs else {
                    return (.rejected(retryAfterSeconds: 1), transition)
                }
                transition = self.move(to: .halfOpen, nowMs: nowMs, reason: "probes unanswered for open_for")
            }
            self.probesInFlight += 1
            self.lastProbeAdmittedMs = nowMs
            return (.admitted(Ticket(generation: self.generation, isProbe: true)), transition)
        }
    }

    /// Lets time pass: an open breaker whose `open_for` has elapsed is half-open from that moment (SPEC §17), so
    /// what the admin API reports follows the clock even when no request arrives.
    public mutating func advance(nowMs: Int64) -> Transition? {
        guard self.forced == nil, self.state == .open, let until = self.openUntilMs, nowMs >= until else { return nil }
        return self.move(to: .halfOpen, nowMs: until, reason: "open_for elapsed")
    }

    /// Records the result of an admitted request. `failure` is nil on success.
    public mutating func record(_ ticket: Ticket, failure: Failure?, nowMs: Int64) -> Transition? {
        if let failure {
            self.recentFailures.append(failure)
            if self.recentFailures.count > Self.failureHistory { self.recentFailures.removeFirst() }
        }
        guard ticket.generation == self.generation, self.forced == nil else { return nil }
        switch self.state {
        case .closed:
            self.window.record(nowMs: nowMs, failed: failure != nil)
            guard failure != nil else {
                self.consecutiveFailures = 0
                return nil
            }
            self.consecutiveFailures += 1
            if self.consecutiveFailures >= self.policy.consecutiveFailures {
                return self.trip(nowMs: nowMs, reason: "consecutive_failures=\(self.consecutiveFailures)")
            }
            let totals = self.window.totals(nowMs: nowMs)
            if totals.requests >= self.policy.minimumRequests {
                let rate = Double(totals.failures) / Double(totals.requests)
                if rate >= self.policy.failureRate {
                    let shown = (rate * 100).rounded() / 100
                    return self.trip(nowMs: nowMs, reason: "failure_rate=\(shown) over \(totals.requests) requests")
                }
            }
            return nil
        case .halfOpen:
            guard ticket.isProbe else { return nil }
            self.probesInFlight = max(0, self.probesInFlight - 1)
            if let failure {
                return self.trip(nowMs: nowMs, reason: "probe failed (\(failure.kind))")
            }
            self.probeSuccesses += 1
            if self.probeSuccesses >= self.policy.halfOpenRequests {
                return self.move(to: .closed, nowMs: nowMs, reason: "\(self.probeSuccesses) probes succeeded")
            }
            return nil
        case .open:
            return nil
        }
    }

    /// The admitted request ended without a result (client gone, cancelled): frees its probe slot, counts nothing.
    public mutating func abandon(_ ticket: Ticket) {
        guard ticket.generation == self.generation, ticket.isProbe, self.state == .halfOpen else { return }
        self.probesInFlight = max(0, self.probesInFlight - 1)
    }

    /// Forces a state until `reset` (admin API); shown as `forced: true`.
    public mutating func force(_ state: State, nowMs: Int64) -> Transition? {
        let from = self.effectiveState
        self.forced = state
        self.generation &+= 1
        return from == state ? nil : Transition(from: from, to: state, reason: "forced by operator")
    }

    /// Back to automatic, closed, with fresh counts.
    public mutating func reset(nowMs: Int64) -> Transition? {
        let from = self.effectiveState
        self.forced = nil
        _ = self.move(to: .closed, nowMs: nowMs, reason: "reset by operator")
        return from == .closed ? nil : Transition(from: from, to: .closed, reason: "reset by operator")
    }

    // === helpers ===

    private mutating func trip(nowMs: Int64, reason: String) -> Transition {
        self.trips += 1
        return self.move(to: .open, nowMs: nowMs, reason: reason)
    }

    private mutating func move(to state: State, nowMs: Int64, reason: String) -> Transition {
        let from = self.state
        self.state = state
        self.generation &+= 1
        self.sinceMs = nowMs
        self.probesInFlight = 0
        self.probeSuccesses = 0
        switch state {
        case .open:
            self.openUntilMs = nowMs + self.policy.openForMs
        case .closed:
            self.openUntilMs = nil
            self.consecutiveFailures = 0
            self.window.clear()
        case .halfOpen:
            self.openUntilMs = nil
        }
        return Transition(from: from, to: state, reason: reason)
    }

    static func seconds(_ ms: Int64) -> Int { max(1, Int((ms + 999) / 1000)) }
}
