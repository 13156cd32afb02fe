import Atomics
import Logging
import NIOConcurrencyHelpers

/// A service as the proxy runs it: its config, breaker, endpoints' health, retry budget, limit and counters.
///
/// The state machines sit under one lock per service; callers get decisions back and do any I/O after unlocking.
/// Breaker transitions are logged here, at warning, with their reason (SPEC §5).
public final class ServiceRuntime: Sendable {
    /// What the state machines of one service hold together.
    public struct State: Sendable {
        /// The breaker.
        public var breaker: CircuitBreaker
        /// Endpoint health and choice.
        public var endpoints: EndpointSet
        /// The retry budget.
        public var budget: RetryBudget
        var random = FastRandom()
    }

    /// The service's configuration, merged with `defaults`.
    public let config: ServiceConfig
    /// Decision counters.
    public let counters: ServiceCounters
    /// The lock-protected state machines.
    public let state: NIOLockedValueBox<State>
    /// Requests in flight (for `max_concurrent_requests`); shared with the runtime it replaces on a reload, so
    /// requests still running on the old snapshot keep counting against the limit.
    public let inFlight: ManagedAtomic<Int>
    let clock: any MillisecondClock
    let logger: Logger

    /// Creates the runtime of a service; `previous` (same name, before a reload) hands over breaker and health.
    public init(
        config: ServiceConfig, clock: any MillisecondClock = SystemMillisecondClock(),
        logger: Logger = Logger(label: "outrigger"), previous: ServiceRuntime? = nil
    ) {
        self.config = config
        self.clock = clock
        self.logger = logger
        let now = clock.nowMs()
        var endpoints = EndpointSet(endpoints: config.endpoints, balance: config.policy.balance)
        var breaker = CircuitBreaker(policy: config.policy.breaker, nowMs: now)
        if let previous {
            previous.state.withLockedValue { old in
                endpoints.adopt(from: old.endpoints)
                if old.breaker.policy == config.policy.breaker { breaker = old.breaker }
            }
        }
        self.state = NIOLockedValueBox(
            State(
                breaker: breaker, endpoints: endpoints,
                budget: RetryBudget(
                    percent: config.policy.retries.budgetPercent, windowMs: config.policy.breaker.windowMs)
            ))
        self.counters = previous?.counters ?? ServiceCounters()
        self.inFlight = previous?.inFlight ?? ManagedAtomic(0)
    }

    /// The service name.
    public var name: String { self.config.name }

    /// Takes a concurrency slot; false (and counted) when `max_concurrent_requests` are already in flight.
    public func acquireSlot() -> Bool {
        let now = self.inFlight.wrappingIncrementThenLoad(ordering: .relaxed)
        if now > self.config.policy.maxConcurrentRequests {
            self.inFlight.wrappingDecrement(ordering: .relaxed)
            self.counters.overloaded.wrappingIncrement(ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives a slot back.
    public func releaseSlot() {
        self.inFlight.wrappingDecrement(ordering: .relaxed)
    }

    /// The outcome of asking to start a try: breaker admission and endpoint choice under one lock.
    public enum TryAdmission {
        case admitted(CircuitBreaker.Ticket, index: Int, endpoint: Endpoint)
        case rejected(retryAfterSeconds: Int)
        case noEndpoints
    }

    /// Asks the breaker to let a try through and, if it does, chooses its endpoint (counted in flight until
    /// `finish`), in one lock round. A first try also counts in the retry budget.
    public func admitTry(firstTry: Bool, avoid: Int?) -> TryAdmission {
        let now = self.clock.nowMs()
        let (result, transition) = self.state.withLockedValue { state -> (TryAdmission, CircuitBreaker.Transition?) in
            if firstTry { state.budget.recordRequest(nowMs: now) }
            let (admission, transition) = state.breaker.admit(nowMs: now)
            switch admission {
            case .rejected(let seconds):
                return (.rejected(retryAfterSeconds: seconds), transition)
            case .admitted(let ticket):
                guard let index = state.endpoints.pick(nowMs: now, avoid: avoid, using: &state.random) else {
                    state.breaker.abandon(ticket)
                    return (.noEndpoints, transition)
                }
                return (.admitted(ticket, index: index, endpoint: state.endpoints.endpoints[index]), transition)
            }
        }
        self.report(transition)
        if case .rejected = result { self.counters.breakerRejections.wrappingIncrement(ordering: .relaxed) }
        return result
    }

    /// Records a try's result: `failure` nil on success.
    public func finish(ticket: CircuitBreaker.Ticket, endpoint index: Int, failure: UpstreamFailure?) {
        let now = self.clock.nowMs()
        let endpointName = self.config.endpoints[index].original
        let (transition, ejected) = self.state.withLockedValue { state in
            let recorded = failure.map { CircuitBreaker.Failure(atMs: now, endpoint: endpointName, kind: $0) }
            let transition = state.breaker.record(ticket, failure: recorded, nowMs: now)
            let ejected = state.endpoints.finish(
                index, connectFailed: failure?.isConnectFailure ?? false, nowMs: now)
            return (transition, ejected)
        }
        self.report(transition)
        if let ejected {
            self.counters.ejections.wrappingIncrement(ordering: .relaxed)
            self.logger.warning(
                "endpoint ejected",
                metadata: [
                    "service": "\(self.name)", "endpoint": "\(endpointName)", "ejected_for_ms": "\(ejected)",
                    "reason": "consecutive_connect_failures=\(EndpointSet.ejectAfter)",
                ])
        }
    }

    /// A try ended without a result (client gone): frees its probe slot and endpoint count, counts nothing.
    public func abandon(ticket: CircuitBreaker.Ticket, endpoint index: Int?) {
        let now = self.clock.nowMs()
        self.state.withLockedValue { state in
            state.breaker.abandon(ticket)
            if let index { _ = state.endpoints.finish(index, connectFailed: false, nowMs: now) }
        }
    }

    /// Asks the request's retry plan what to do after a failed try, with this service's budget and random source
    /// under its lock; counts a retry taken and a retry refused by the budget.
    public func decideRetry(
        _ plan: RetryPlan, after failure: UpstreamFailure, responseStarted: Bool, deadlineMs: Int64?
    ) -> RetryPlan.Decision {
        let now = self.clock.nowMs()
        let decision = self.state.withLockedValue { state in
            plan.decide(
                after: failure, responseStarted: responseStarted, nowMs: now, deadlineMs: deadlineMs,
                budget: &state.budget, random: &state.random)
        }
        switch decision {
        case .retry: self.counters.retries.wrappingIncrement(ordering: .relaxed)
        case .giveUp(.budgetExhausted): self.counters.budgetExhausted.wrappingIncrement(ordering: .relaxed)
        case .giveUp: break
        }
        return decision
    }

    /// The breaker as of now: an `open_for` that has elapsed is applied (and logged) first, so `/breakers`,
    /// `/stats` and `/metrics` follow the clock without waiting for a request (SPEC §17).
    public func breakerNow() -> CircuitBreaker {
        let now = self.clock.nowMs()
        let (breaker, transition) = self.state.withLockedValue { state in
            let transition = state.breaker.advance(nowMs: now)
            return (state.breaker, transition)
        }
        self.report(transition)
        return breaker
    }

    /// Forces the breaker open or closed until `resetBreaker` (admin API).
    public func forceBreaker(_ state: CircuitBreaker.State) {
        let now = self.clock.nowMs()
        self.report(self.state.withLockedValue { $0.breaker.force(state, nowMs: now) })
    }

    /// Returns the breaker to automatic, closed, with fresh counts (admin API).
    public func resetBreaker() {
        let now = self.clock.nowMs()
        self.report(self.state.withLockedValue { $0.breaker.reset(nowMs: now) })
    }

    func report(_ transition: CircuitBreaker.Transition?) {
        guard let transition else { return }
        self.counters.transitions.wrappingIncrement(ordering: .relaxed)
        self.logger.warning(
            "breaker \(transition.from.rawValue) -> \(transition.to.rawValue)",
            metadata: [
                "service": "\(self.name)", "breaker.from": "\(transition.from.rawValue)",
                "breaker.to": "\(transition.to.rawValue)", "reason": "\(transition.reason)",
            ])
    }
}
