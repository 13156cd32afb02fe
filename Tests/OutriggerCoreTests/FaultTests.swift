import NIOCore
import NIOHTTP1
import Testing

@testable import OutriggerCore

@Suite("Fault injection without sockets (SPEC §11)", .timeLimit(.minutes(1)))
struct FaultTests {
    static func policy(delay: Double? = nil, abort: Double? = nil, reset: Double? = nil) -> FaultPolicy {
        var policy = FaultPolicy()
        policy.delay = delay.map { FaultPolicy.Delay(percent: $0, durationMs: 200) }
        policy.abort = abort.map { FaultPolicy.Abort(percent: $0, status: 503) }
        policy.reset = reset.map { FaultPolicy.Reset(percent: $0) }
        return policy
    }

    @Test func eachKindActsWhenItsRollFallsUnderItsPercentage() {
        var rolls: [Double] = [5, 50, 0.5]  // delay hit, abort missed, reset hit
        let decision = FaultDecision.decide(Self.policy(delay: 10, abort: 20, reset: 1), requested: nil) {
            rolls.removeFirst()
        }
        #expect(decision == FaultDecision(delayMs: 200, outcome: .reset))
        #expect(decision.headerValue == "delay,reset")
        #expect(rolls.isEmpty)  // one roll per configured kind: the kinds are independent
    }

    @Test func anAbortTakesPrecedenceOverAReset() {
        let decision = FaultDecision.decide(Self.policy(abort: 100, reset: 100), requested: nil) { 0 }
        #expect(decision.outcome == .abort(503) && decision.kinds == [.abort])
    }

    @Test func zeroPercentNeverActs_andAHundredAlwaysDoes() {
        var random = FastRandom()
        for _ in 0..<1000 {
            let roll = { Double(random.next() >> 11) * (100.0 / 9_007_199_254_740_992.0) }
            #expect(FaultDecision.decide(Self.policy(abort: 0), requested: nil, roll: roll).isNone)
            #expect(FaultDecision.decide(Self.policy(abort: 100), requested: nil, roll: roll).outcome == .abort(503))
        }
    }

    @Test func aPartialAbortHitsItsShare() {
        var random = FastRandom()
        var hits = 0
        for _ in 0..<20_000 {
            let decision = FaultDecision.decide(Self.policy(abort: 30), requested: nil) {
                Double(random.next() >> 11) * (100.0 / 9_007_199_254_740_992.0)
            }
            if decision.outcome == .abort(503) { hits += 1 }
        }
        // 30 % of 20 000 is 6 000, with a standard deviation of about 65: ±400 is more than six of them.
        #expect((5600...6400).contains(hits))
    }

    @Test func requestedFaultsApplyInFull_andBadValuesAreIgnored() {
        let requested = FaultDecision.requested(delayHeader: "150", abortHeader: " 418 ")
        #expect(requested == FaultDecision.Requested(delayMs: 150, abortStatus: 418))
        let decision = FaultDecision.decide(FaultPolicy(), requested: requested) { 99 }
        #expect(decision == FaultDecision(delayMs: 150, outcome: .abort(418)))
        #expect(FaultDecision.requested(delayHeader: "-5", abortHeader: "700") == nil)
        #expect(FaultDecision.requested(delayHeader: nil, abortHeader: "abc") == nil)
    }

    @Test func runTimeFaultsEndAtTheirTTL() {
        let overrides = FaultOverrides()
        #expect(overrides.policy(for: "svc", nowMs: 0) == nil)
        overrides.set(Self.policy(abort: 100), for: "svc", ttlMs: 1000, nowMs: 5000)
        #expect(overrides.policy(for: "svc", nowMs: 5999)?.abort?.percent == 100)
        #expect(overrides.policy(for: "svc", nowMs: 6000) == nil)
        #expect(overrides.expire(nowMs: 5500) == [])
        #expect(overrides.expire(nowMs: 6000) == ["svc"])
        #expect(overrides.all(nowMs: 6000).isEmpty)
        overrides.set(Self.policy(reset: 1), for: "svc", ttlMs: nil, nowMs: 0)
        #expect(overrides.policy(for: "svc", nowMs: 1 << 40)?.reset?.percent == 1)
        #expect(overrides.remove("svc") && !overrides.remove("svc"))
    }

    @Test func anAdminBody_isReadByTheRegistrysRules() throws {
        let good = AdminRouter.parseFaults(
            #"{"abort": {"percent": 25, "status": 503}, "delay": {"percent": 100, "duration": "50ms"}, "ttl": "90s"}"#)
        guard case .success(let request) = good else {
            Issue.record("rejected: \(good)")
            return
        }
        #expect(request.policy.abort == FaultPolicy.Abort(percent: 25, status: 503))
        #expect(request.policy.delay == FaultPolicy.Delay(percent: 100, durationMs: 50))
        #expect(request.ttlMs == 90_000)
        let bad = AdminRouter.parseFaults(#"{"abort": {"percent": 250, "status": 99}, "ttl": "soon", "nope": 1}"#)
        guard case .failure(let problems) = bad else {
            Issue.record("accepted a bad body")
            return
        }
        let errors = problems.errors.map(\.description)
        #expect(errors.count == 4, "\(errors)")
        #expect(errors.allSatisfy { $0.hasPrefix("body:1:") })
        #expect(errors.contains { $0.contains("abort.percent must be between 0.0 and 100.0, not 250.0") })
        #expect(errors.contains { $0.contains("abort.status must be between 200 and 599, not 99") })
        #expect(errors.contains { $0.contains("nope") })
        if case .success = AdminRouter.parseFaults("") { Issue.record("accepted an empty body") }
        // JSON's types, as the OpenAPI document states them: no quoted numbers or booleans, durations as strings,
        // an integral 503.0 is an integer, the body an object.
        for body in [
            #"{"abort": {"percent": "50", "status": 503}}"#, #"{"delay": {"percent": 5, "duration": 0}}"#,
            #"{"allow_request_headers": "true"}"#, "null", "[1]",
        ] {
            if case .success = AdminRouter.parseFaults(body) { Issue.record("accepted \(body)") }
        }
        guard case .success(let integral) = AdminRouter.parseFaults(#"{"abort": {"percent": 5, "status": 503.0}}"#)
        else {
            Issue.record("refused an integral 503.0")
            return
        }
        #expect(integral.policy.abort?.status == 503)
        if case .success = AdminRouter.parseFaults("{\"abort\": ") { Issue.record("accepted broken JSON") }
    }

    @Test func anAbortedTry_isAnsweredWithItsStatusAndTheFaultHeader_withoutReachingTheUpstream() throws {
        let proxy = try EmbeddedProxy { policy in
            policy.faults.abort = FaultPolicy.Abort(percent: 100, status: 503)
            policy.retries.attempts = 0
        }
        defer { proxy.finish() }
        try proxy.send(.GET, "/x")
        #expect(proxy.handler.exchange?.transfer is FaultedTry)
        proxy.advance(ms: 0)
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"), "\(output)")
        #expect(output.contains("x-outrigger-fault: abort\r\n"))
        #expect(proxy.service.counters.faults[1].load(ordering: .relaxed) == 1)
        #expect(proxy.service.counters.responsesByClass[4].load(ordering: .relaxed) == 1)
    }

    @Test func anAbortedTry_isRetriedLikeAnUpstreamsOwn503() throws {
        let proxy = try EmbeddedProxy { policy in
            policy.faults.abort = FaultPolicy.Abort(percent: 100, status: 503)
            policy.retries.attempts = 2
        }
        defer { proxy.finish() }
        try proxy.send(.GET, "/x")
        for _ in 0..<2000 where proxy.handler.exchange != nil { proxy.advance(ms: 1) }
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 503"), "\(output)")
        #expect(proxy.service.counters.faults[1].load(ordering: .relaxed) == 3)  // every try, independently
        #expect(proxy.service.counters.retries.load(ordering: .relaxed) == 2)
    }

    @Test func aDelayBeyondPerTryTimeout_isATimeout() throws {
        let proxy = try EmbeddedProxy { policy in
            policy.faults.delay = FaultPolicy.Delay(percent: 100, durationMs: 500)
            policy.retries.attempts = 0
            policy.retries.perTryTimeoutMs = 100
        }
        defer { proxy.finish() }
        try proxy.send(.GET, "/x")
        proxy.advance(ms: 99)
        #expect(try proxy.output() == "")
        proxy.advance(ms: 1)
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 504"), "\(output)")
        #expect(output.contains("x-outrigger-error: upstream_timeout") && output.contains("x-outrigger-fault: delay"))
    }

    @Test func aDelayedTry_goesToTheUpstreamAfterItsDelay() throws {
        let proxy = try EmbeddedProxy { policy in
            policy.faults.delay = FaultPolicy.Delay(percent: 100, durationMs: 200)
        }
        defer { proxy.finish() }
        try proxy.send(.GET, "/x")
        #expect(proxy.transfer == nil)
        proxy.advance(ms: 199)
        #expect(proxy.transfer == nil)
        proxy.advance(ms: 1)
        let transfer = try #require(proxy.transfer)
        #expect(transfer.curlRequest.framing.fault == "delay")
    }

    @Test func aResetTry_failsAsUpstreamReset() throws {
        let proxy = try EmbeddedProxy { policy in
            policy.faults.reset = FaultPolicy.Reset(percent: 100)
            policy.retries.attempts = 0
        }
        defer { proxy.finish() }
        try proxy.send(.GET, "/x")
        proxy.advance(ms: 0)
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 502"), "\(output)")
        #expect(output.contains("x-outrigger-error: upstream_reset") && output.contains("x-outrigger-fault: reset"))
    }

    @Test func faultHeaders_areNeverSentUpstream() {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "svc")
        headers.add(name: "X-Outrigger-Fault-Abort", value: "503")
        headers.add(name: "x-outrigger-fault-delay-ms", value: "10")
        var sent: [String] = []
        RequestHeaderRules.apply(.init(headers: headers, clientAddress: nil, requestID: "r")) { name, _ in
            sent.append(name.lowercased())
        }
        #expect(!sent.contains { $0.hasPrefix("x-outrigger-fault") })
    }
}
