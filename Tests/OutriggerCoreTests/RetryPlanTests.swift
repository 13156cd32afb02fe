import Testing

@testable import OutriggerCore

/// Every retry decision of SPEC §5 and §17 on an explicit clock and a seeded random source, without sockets.
@Suite("Retry plan")
struct RetryPlanTests {
    static func plan(
        method: String = "GET", key: Bool = false, body: Int64? = 0, attempts: Int = 2,
        retryOn: [RetryPolicy.Condition] = RetryPolicy().retryOn
    ) -> RetryPlan {
        var policy = RetryPolicy()
        policy.attempts = attempts
        policy.retryOn = retryOn
        return RetryPlan(policy: policy, method: method, hasIdempotencyKey: key, bodyLength: body)
    }

    static func decide(
        _ plan: RetryPlan, _ failure: UpstreamFailure, now: Int64 = 0, deadline: Int64? = nil,
        started: Bool = false, budget: inout RetryBudget
    ) -> RetryPlan.Decision {
        var random = FastRandom()
        return plan.decide(
            after: failure, responseStarted: started, nowMs: now, deadlineMs: deadline, budget: &budget,
            random: &random)
    }

    @Test func idempotentMethods_andIdempotencyKey_areEligible_othersNot() {
        for method in ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"] {
            #expect(Self.plan(method: method).eligible, "\(method)")
        }
        #expect(!Self.plan(method: "POST").eligible)
        #expect(!Self.plan(method: "PATCH").eligible)
        #expect(Self.plan(method: "POST", key: true).eligible)
        #expect(!Self.plan(method: "GET", attempts: 0).eligible)
    }

    @Test func defaultRetryOn_retriesATimedOutTry_as504() {
        // SPEC §17: a try that ran out of per_try_timeout is the 504 condition; the default retry_on lists 504.
        var budget = RetryBudget(percent: 20, windowMs: 10_000)
        var plan = Self.plan()
        plan.tryStarted(endpoint: 0)
        let decision = Self.decide(plan, .error(.upstreamTimeout), budget: &budget)
        guard case .retry(let delay, let avoid) = decision else {
            Issue.record("a timed-out try was not retried under the default retry_on: \(decision)")
            return
        }
        #expect((12...25).contains(delay))
        #expect(avoid == 0)
        // Listed only as `timeout`, it is retried too; with neither, it is not.
        #expect(
            Self.decide(Self.started(Self.plan(retryOn: [.timeout])), .error(.upstreamTimeout), budget: &budget)
                != .giveUp(.notInRetryOn))
        #expect(
            Self.decide(Self.started(Self.plan(retryOn: [.reset])), .error(.upstreamTimeout), budget: &budget)
                == .giveUp(.notInRetryOn))
    }

    static func started(_ plan: RetryPlan, tries: Int = 1) -> RetryPlan {
        var plan = plan
        for index in 0..<tries { plan.tryStarted(endpoint: index) }
        return plan
    }

    @Test func conditions_matchTheirFailures() {
        let cases: [(RetryPolicy.Condition, UpstreamFailure, Bool)] = [
            (.connectFailure, .error(.upstreamConnectFailed), true),
            (.connectFailure, .error(.upstreamConnectTimeout), true),
            (.connectFailure, .error(.upstreamReset), false),
            (.reset, .error(.upstreamReset), true),
            (.reset, .error(.upstreamProtocolError), true),
            (.status(503), .status(503), true),
            (.status(503), .status(502), false),
            (.status(504), .error(.upstreamTimeout), true),
            (.timeout, .error(.upstreamConnectFailed), false),
        ]
        for (condition, failure, retried) in cases {
            var budget = RetryBudget(percent: 100, windowMs: 10_000)
            let decision = Self.decide(Self.started(Self.plan(retryOn: [condition])), failure, budget: &budget)
            if retried {
                guard case .retry = decision else {
                    Issue.record("\(condition) did not retry \(failure): \(decision)")
                    continue
                }
            } else {
                #expect(decision == .giveUp(.notInRetryOn), "\(condition) vs \(failure)")
            }
        }
    }

    @Test func givesUp_forEachReason() {
        var budget = RetryBudget(percent: 100, windowMs: 10_000)
        #expect(
            Self.decide(Self.started(Self.plan(method: "POST")), .status(503), budget: &budget)
                == .giveUp(.notRetryable))
        #expect(
            Self.decide(Self.started(Self.plan()), .status(503), started: true, budget: &budget)
                == .giveUp(.responseStarted))
        #expect(
            Self.decide(Self.started(Self.plan(attempts: 2), tries: 3), .status(503), budget: &budget)
                == .giveUp(.attemptsSpent))
        // Backoff of the first retry is 12-25 ms: a deadline 5 ms away cannot fit it.
        #expect(
            Self.decide(Self.started(Self.plan()), .status(503), now: 100, deadline: 105, budget: &budget)
                == .giveUp(.deadline))
    }

    @Test func body_isReplayableUpTo64KiB_andNotBeyond() {
        var budget = RetryBudget(percent: 100, windowMs: 10_000)
        #expect(Self.plan(method: "PUT", body: 65_536).keepsBody)
        #expect(!Self.plan(method: "PUT", body: 65_537).keepsBody)
        var chunked = Self.started(Self.plan(method: "PUT", body: nil))
        #expect(chunked.keepsBody)
        chunked.bodyReceived(total: 65_536)
        #expect(chunked.mayRetryLater)
        chunked.bodyReceived(total: 65_537)
        #expect(!chunked.mayRetryLater)
        #expect(chunked.holdStatuses.isEmpty)
        #expect(Self.decide(chunked, .status(503), budget: &budget) == .giveUp(.bodyNotReplayable))
    }

    @Test func holdStatuses_areTheStatusesOfRetryOn_whileARetryIsPossible() {
        var plan = Self.plan(attempts: 1, retryOn: [.reset, .status(502), .status(503)])
        plan.tryStarted(endpoint: 0)
        #expect(plan.holdStatuses == [502, 503])
        plan.tryStarted(endpoint: 1)
        #expect(plan.holdStatuses == [], "the last try has nothing to hold back for")
    }

    @Test func budget_stopsRetries_andIsOnlySpentWhenEverythingElseAllows() {
        var budget = RetryBudget(percent: 0, windowMs: 10_000)
        // A retry refused for another reason leaves the budget's floor of 3 untouched.
        _ = Self.decide(Self.started(Self.plan(method: "POST")), .status(503), budget: &budget)
        let plan = Self.started(Self.plan())
        for _ in 0..<RetryBudget.floor {
            guard case .retry = Self.decide(plan, .status(503), budget: &budget) else {
                Issue.record("the budget's floor refused a retry")
                return
            }
        }
        #expect(Self.decide(plan, .status(503), budget: &budget) == .giveUp(.budgetExhausted))
    }
}

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test func retryStatuses_followRetryOn_fromTheDefaultOn() {
        var policy = RetryPolicy()
        #expect(policy.retryStatuses == RetryPolicy.statuses(of: policy.retryOn))
        policy.retryOn = [.timeout, .status(500), .reset, .status(503)]
        #expect(policy.retryStatuses == [500, 503])
    }
}
