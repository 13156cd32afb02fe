import Testing

@testable import OutriggerCore

/// The breaker of SPEC §5 on an explicit clock: every rule, and the races, without sockets or sleeps.
@Suite("Circuit breaker state machine")
struct CircuitBreakerTests {
    static func policy(
        consecutive: Int = 5, rate: Double = 0.5, minimum: Int = 20, window: Int64 = 10_000, openFor: Int64 = 30_000,
        probes: Int = 1
    ) -> BreakerPolicy {
        var policy = BreakerPolicy()
        policy.consecutiveFailures = consecutive
        policy.failureRate = rate
        policy.minimumRequests = minimum
        policy.windowMs = window
        policy.openForMs = openFor
        policy.halfOpenRequests = probes
        return policy
    }

    static let failure = CircuitBreaker.Failure(atMs: 0, endpoint: "127.0.0.1:1", kind: .error(.upstreamReset))

    /// Admits one request at `now` and records its result.
    @discardableResult
    static func request(
        _ breaker: inout CircuitBreaker, now: Int64, fails: Bool
    ) -> (admitted: Bool, transition: CircuitBreaker.Transition?) {
        let (admission, before) = breaker.admit(nowMs: now)
        guard case .admitted(let ticket) = admission else { return (false, before) }
        let after = breaker.record(ticket, failure: fails ? Self.failure : nil, nowMs: now)
        return (true, after ?? before)
    }

    @Test func closed_tripsOnConsecutiveFailures_withTheReason() {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 3), nowMs: 0)
        Self.request(&breaker, now: 1, fails: true)
        Self.request(&breaker, now: 2, fails: true)
        #expect(breaker.state == .closed)
        let (_, transition) = Self.request(&breaker, now: 3, fails: true)
        #expect(transition == .init(from: .closed, to: .open, reason: "consecutive_failures=3"))
        #expect(breaker.state == .open)
        #expect(breaker.trips == 1)
    }

    @Test func closed_successResetsTheConsecutiveCount() {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 3), nowMs: 0)
        for now in 1...10 {
            Self.request(&breaker, now: Int64(now), fails: now % 3 != 0)
        }
        #expect(breaker.state == .closed)
    }

    @Test func closed_tripsOnFailureRate_onlyWithMinimumRequests() {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 100, rate: 0.5, minimum: 10), nowMs: 0)
        // Alternate: 50 % failures, but below the minimum until the 10th request.
        for index in 0..<9 {
            Self.request(&breaker, now: Int64(index), fails: index % 2 == 0)
            #expect(breaker.state == .closed)
        }
        let (_, transition) = Self.request(&breaker, now: 9, fails: false)
        #expect(breaker.state == .closed, "the 10th request succeeded: 5 of 10 failed, but the trip is on a failure")
        #expect(transition == nil)
        let (_, trip) = Self.request(&breaker, now: 10, fails: true)
        #expect(trip == .init(from: .closed, to: .open, reason: "failure_rate=0.55 over 11 requests"))
    }

    @Test func window_forgetsOldResults() {
        var breaker = CircuitBreaker(
            policy: Self.policy(consecutive: 100, rate: 0.5, minimum: 4, window: 1000), nowMs: 0)
        Self.request(&breaker, now: 0, fails: true)
        Self.request(&breaker, now: 10, fails: true)
        Self.request(&breaker, now: 20, fails: true)
        // More than a window later only new results count: 1 failure in 4.
        for now: Int64 in [2000, 2001, 2002] { Self.request(&breaker, now: now, fails: false) }
        Self.request(&breaker, now: 2003, fails: true)
        #expect(breaker.state == .closed)
        #expect(breaker.window.totals(nowMs: 2003) == (requests: 4, failures: 1))
    }

    @Test func open_rejectsWithRetryAfter_untilOpenForElapses() {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 1, openFor: 30_000), nowMs: 0)
        Self.request(&breaker, now: 1000, fails: true)
        #expect(breaker.admit(nowMs: 1000).0 == .rejected(retryAfterSeconds: 30))
        #expect(breaker.admit(nowMs: 30_500).0 == .rejected(retryAfterSeconds: 1))
        let (admission, transition) = breaker.admit(nowMs: 31_000)
        #expect(transition == .init(from: .open, to: .halfOpen, reason: "open_for elapsed"))
        guard case .admitted(let ticket) = admission else {
            Issue.record("no probe admitted after open_for")
            return
        }
        #expect(ticket.isProbe)
    }

    /// Trips at 0, half-open at `openFor`.
    static func halfOpenBreaker(probes: Int = 1) -> CircuitBreaker {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 1, openFor: 1000, probes: probes), nowMs: 0)
        Self.request(&breaker, now: 0, fails: true)
        return breaker
    }

    @Test func halfOpen_admitsOnlyHalfOpenRequestsProbesAtOnce() {
        var breaker = Self.halfOpenBreaker(probes: 2)
        guard case .admitted = breaker.admit(nowMs: 1000).0, case .admitted = breaker.admit(nowMs: 1001).0 else {
            Issue.record("two probes should pass")
            return
        }
        #expect(breaker.admit(nowMs: 1002).0 == .rejected(retryAfterSeconds: 1))
        #expect(breaker.probesInFlight == 2)
    }

    @Test func halfOpen_failedProbe_reopens() {
        var breaker = Self.halfOpenBreaker()
        guard case .admitted(let probe) = breaker.admit(nowMs: 1000).0 else {
            Issue.record("expected the breaker to admit")
            return
        }
        let transition = breaker.record(probe, failure: Self.failure, nowMs: 1010)
        #expect(transition == .init(from: .halfOpen, to: .open, reason: "probe failed (upstream_reset)"))
        #expect(breaker.openUntilMs == 2010)
        #expect(breaker.trips == 2)
    }

    @Test func halfOpen_enoughSuccessfulProbes_close_withFreshCounts() {
        var breaker = Self.halfOpenBreaker(probes: 2)
        guard case .admitted(let first) = breaker.admit(nowMs: 1000).0,
            case .admitted(let second) = breaker.admit(nowMs: 1000).0
        else {
            Issue.record("half-open with two probe slots did not admit two probes")
            return
        }
        let result9 = breaker.record(first, failure: nil, nowMs: 1001)
        #expect(result9 == nil)
        #expect(breaker.state == .halfOpen)
        let transition = breaker.record(second, failure: nil, nowMs: 1002)
        #expect(transition == .init(from: .halfOpen, to: .closed, reason: "2 probes succeeded"))
        #expect(breaker.consecutiveFailures == 0)
        #expect(breaker.window.totals(nowMs: 1002) == (requests: 0, failures: 0))
    }

    @Test func lateResultFromAnOlderGeneration_isIgnored() {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 2, openFor: 1000), nowMs: 0)
        guard case .admitted(let slow) = breaker.admit(nowMs: 0).0 else {
            Issue.record("expected the breaker to admit")
            return
        }
        Self.request(&breaker, now: 1, fails: true)
        Self.request(&breaker, now: 2, fails: true)  // trips: generation moves on
        #expect(breaker.state == .open)
        // The slow request admitted while closed reports success after the trip: it must not count.
        let result10 = breaker.record(slow, failure: nil, nowMs: 3)
        #expect(result10 == nil)
        #expect(breaker.state == .open)
        // Nor may an old result close a half-open breaker.
        guard case .admitted = breaker.admit(nowMs: 1002).0 else {
            Issue.record("expected the breaker to admit")
            return
        }
        let result11 = breaker.record(slow, failure: nil, nowMs: 1003)
        #expect(result11 == nil)
        #expect(breaker.state == .halfOpen)
    }

    @Test func concurrentProbes_oneFails_theOtherSucceedsLate_staysOpen() {
        var breaker = Self.halfOpenBreaker(probes: 2)
        guard case .admitted(let a) = breaker.admit(nowMs: 1000).0, case .admitted(let b) = breaker.admit(nowMs: 1000).0
        else {
            Issue.record("half-open with two probe slots did not admit two probes")
            return
        }
        _ = breaker.record(a, failure: Self.failure, nowMs: 1001)
        #expect(breaker.state == .open)
        let result12 = breaker.record(b, failure: nil, nowMs: 1002)
        #expect(result12 == nil)
        #expect(breaker.state == .open)
    }

    @Test func probeCancelledByItsClient_freesTheSlot() {
        var breaker = Self.halfOpenBreaker()
        guard case .admitted(let probe) = breaker.admit(nowMs: 1000).0 else {
            Issue.record("expected the breaker to admit")
            return
        }
        #expect(breaker.admit(nowMs: 1001).0 == .rejected(retryAfterSeconds: 1))
        breaker.abandon(probe)
        guard case .admitted(let next) = breaker.admit(nowMs: 1002).0 else {
            Issue.record("half-open stuck after a cancelled probe")
            return
        }
        #expect(next.isProbe)
    }

    @Test func probeThatNeverAnswers_doesNotWedgeHalfOpen() {
        var breaker = Self.halfOpenBreaker()
        guard case .admitted(let lost) = breaker.admit(nowMs: 1000).0 else {
            Issue.record("expected the breaker to admit")
            return
        }
        #expect(breaker.admit(nowMs: 1999).0 == .rejected(retryAfterSeconds: 1))
        let (admission, transition) = breaker.admit(nowMs: 2000)
        #expect(transition?.reason == "probes unanswered for open_for")
        guard case .admitted(let fresh) = admission else {
            Issue.record("no new probe after open_for with the old one unanswered")
            return
        }
        // The lost probe answering late belongs to an older generation.
        let result13 = breaker.record(lost, failure: nil, nowMs: 2001)
        #expect(result13 == nil)
        let result14 = breaker.record(fresh, failure: nil, nowMs: 2002)
        #expect(result14?.to == .closed)
    }

    @Test func forcedOpen_rejects_andResetReturnsToClosedWithFreshCounts() {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 3), nowMs: 0)
        Self.request(&breaker, now: 1, fails: true)
        #expect(breaker.force(.open, nowMs: 2) == .init(from: .closed, to: .open, reason: "forced by operator"))
        #expect(breaker.admit(nowMs: 3).0 == .rejected(retryAfterSeconds: 30))
        #expect(breaker.effectiveState == .open)
        #expect(breaker.reset(nowMs: 4) == .init(from: .open, to: .closed, reason: "reset by operator"))
        #expect(breaker.forced == nil)
        #expect(breaker.consecutiveFailures == 0)
        guard case .admitted = breaker.admit(nowMs: 5).0 else {
            Issue.record("reset breaker rejects")
            return
        }
    }

    @Test func reportedState_followsTheClock_withoutARequest() {
        // SPEC §17: once open_for has passed, the breaker is half-open from that moment, asked or not.
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 1, openFor: 1000), nowMs: 0)
        Self.request(&breaker, now: 10, fails: true)
        #expect(breaker.state == .open)
        let result15 = breaker.advance(nowMs: 1009)
        #expect(result15 == nil)
        #expect(breaker.state == .open)
        let transition = breaker.advance(nowMs: 5000)
        #expect(transition?.to == .halfOpen)
        #expect(breaker.state == .halfOpen)
        #expect(breaker.sinceMs == 1010, "half-open began when open_for ended, not when it was looked at")
        let result16 = breaker.advance(nowMs: 6000)
        #expect(result16 == nil)
        // A probe is still admitted after the state moved on its own.
        guard case .admitted(let probe) = breaker.admit(nowMs: 6000).0, probe.isProbe else {
            Issue.record("half-open did not admit a probe")
            return
        }
        // A forced state is never moved by the clock.
        var forced = CircuitBreaker(policy: Self.policy(openFor: 1000), nowMs: 0)
        _ = forced.force(.open, nowMs: 0)
        let result17 = forced.advance(nowMs: 100_000)
        #expect(result17 == nil)
        #expect(forced.effectiveState == .open)
    }

    @Test func recentFailures_keepTheWhy() {
        var breaker = CircuitBreaker(policy: Self.policy(consecutive: 100), nowMs: 0)
        for index in 0..<15 { Self.request(&breaker, now: Int64(index), fails: true) }
        #expect(breaker.recentFailures.count == CircuitBreaker.failureHistory)
        #expect(breaker.recentFailures.last?.kind == .error(.upstreamReset))
        #expect(breaker.recentFailures.last?.kind.description == "upstream_reset")
        #expect(breaker.recentFailures.last?.endpoint == "127.0.0.1:1")
    }
}

@Suite("Retry budget, backoff and ejection")
struct ResilienceMachinesTests {
    @Test func budget_allowsAFloorThenAShareOfRequests() {
        var budget = RetryBudget(percent: 20, windowMs: 10_000)
        // No traffic: the floor of 3 per window.
        let first = (0..<5).map { _ in budget.tryRetry(nowMs: 0) }
        #expect(first == [true, true, true, false, false])
        // 100 requests: 20 retries in the window in all.
        for _ in 0..<100 { budget.recordRequest(nowMs: 1) }
        let allowed = (0..<30).filter { _ in budget.tryRetry(nowMs: 2) }.count
        #expect(allowed == 17)
        // A window later the budget is spent no more.
        let spent = budget.tryRetry(nowMs: 3)
        #expect(!spent)
        let later = budget.tryRetry(nowMs: 20_000)
        #expect(later)
    }

    @Test func backoff_isJitteredExponentialFrom25ms() {
        var random = FastRandom()
        for _ in 0..<100 {
            let delays = [1, 2, 3, 9].map { Backoff.delayMs(retry: $0, using: &random) }
            #expect((12...25).contains(delays[0]))
            #expect((25...50).contains(delays[1]))
            #expect((50...100).contains(delays[2]))
            #expect((500...1000).contains(delays[3]))
        }
    }

    static func endpoints(_ count: Int, balance: Balance = .roundRobin) -> EndpointSet {
        EndpointSet(endpoints: (1...count).map { try! Endpoint.parse("127.0.0.1:\($0)").get() }, balance: balance)
    }

    @Test func fiveConnectFailuresInARow_eject_for30s_doublingUpTo5min() {
        var set = Self.endpoints(2)
        var random = FastRandom()
        for _ in 0..<4 {
            let ejected = set.finish(0, connectFailed: true, nowMs: 0)
            #expect(ejected == nil)
        }
        let ejected = set.finish(0, connectFailed: true, nowMs: 0)
        #expect(ejected == 30_000)
        // While ejected every pick goes to the other endpoint.
        let picks = (0..<4).map { _ in set.pick(nowMs: 1000, using: &random) }
        #expect(picks == [1, 1, 1, 1])
        // Back after 30 s, fails again: 60 s, then 120, 240, capped at 300.
        var lengths: [Int64] = []
        var now: Int64 = 30_000
        for _ in 0..<5 {
            var ejected: Int64?
            for _ in 0..<5 { ejected = set.finish(0, connectFailed: true, nowMs: now) }
            lengths.append(ejected ?? -1)
            now += ejected ?? 0
        }
        #expect(lengths == [60_000, 120_000, 240_000, 300_000, 300_000])
    }

    @Test func ejection_neverRemovesTheLastEndpointInRotation() {
        var set = Self.endpoints(2)
        for _ in 0..<5 { _ = set.finish(0, connectFailed: true, nowMs: 0) }
        var last: Int64?
        for _ in 0..<5 { last = set.finish(1, connectFailed: true, nowMs: 0) }
        #expect(last == nil)
        var random = FastRandom()
        let pick = set.pick(nowMs: 1, using: &random)
        #expect(pick == 1)
    }

    @Test func success_resetsTheConsecutiveCount() {
        var set = Self.endpoints(2)
        for _ in 0..<4 { _ = set.finish(0, connectFailed: true, nowMs: 0) }
        _ = set.finish(0, connectFailed: false, nowMs: 0)
        for _ in 0..<4 {
            let ejected = set.finish(0, connectFailed: true, nowMs: 0)
            #expect(ejected == nil)
        }
    }

    @Test func retryAvoidsTheEndpointThatJustFailed() {
        var set = Self.endpoints(3)
        var random = FastRandom()
        for _ in 0..<10 {
            let pick = set.pick(nowMs: 0, avoid: 1, using: &random)
            #expect(pick != 1)
        }
        var single = Self.endpoints(1)
        let only = single.pick(nowMs: 0, avoid: 0, using: &random)
        #expect(only == 0)
    }

    @Test func leastRequest_prefersTheLessLoadedOfTwo() {
        var set = Self.endpoints(2, balance: .leastRequest)
        var random = FastRandom()
        // Load endpoint 0 heavily; with two endpoints both are always compared.
        for _ in 0..<10 {
            if set.pick(nowMs: 0, using: &random) == 1 { _ = set.finish(1, connectFailed: false, nowMs: 0) }
        }
        let picks = (0..<20).map { _ -> Int in
            let index = set.pick(nowMs: 0, using: &random)!
            _ = set.finish(index, connectFailed: false, nowMs: 0)
            return index
        }
        #expect(picks.allSatisfy { $0 == 1 })
    }
}
