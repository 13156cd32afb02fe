import Atomics
import NIOCore
import Testing

@testable import OutriggerCore

/// SPEC §3 and §5 live: real upstreams failing on command, the real proxy, counted on the upstream's side.
@Suite("Resilience live (SPEC §5)")
struct ResilienceTests {
    static func get(_ client: RawClient, _ path: String = "/", headers: String = "") async throws -> WireMessage {
        try await client.send("GET \(path) HTTP/1.1\r\nHost: svc\r\n\(headers)\r\n")
        return try await client.readResponse()
    }

    @Test func breaker_trips_staysOpenWithoutTouchingTheUpstream_thenHalfOpensAndCloses() async throws {
        let healthy = ManagedAtomic(false)
        try await withProxy(
            behaviour: { _ in healthy.load(ordering: .relaxed) ? .text(body: "fine") : .text("503 Service Unavailable")
            },
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 3
                // Long enough for the five rejected requests below even on a slow (sanitizer) build.
                policy.breaker.openForMs = 1500
            }
        ) { upstream, proxy in
            let client = try await proxy.client()
            for _ in 0..<3 { #expect(try await Self.get(client).status == 503) }
            let seen = upstream.requests.count
            let connections = upstream.connections
            for _ in 0..<5 {
                let rejected = try await Self.get(client)
                #expect(rejected.value("x-outrigger-error") == "breaker_open")
                // Whole seconds left of open_for (1.5 s), rounded up.
                #expect(["1", "2"].contains(rejected.value("retry-after") ?? ""))
            }
            #expect(upstream.requests.count == seen, "an open breaker let requests reach the upstream")
            #expect(upstream.connections == connections)
            // The upstream recovers; after open_for a probe passes and closes the breaker.
            healthy.store(true, ordering: .relaxed)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            var response = try await Self.get(client)
            while response.value("x-outrigger-error") == "breaker_open" && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                response = try await Self.get(client)
            }
            #expect(response.bodyText == "fine")
            for _ in 0..<3 { #expect(try await Self.get(client).bodyText == "fine") }
            await client.close()
        }
    }

    @Test func getIsRetried_onTheOtherEndpoint() async throws {
        let bad = try await TestUpstream { _ in .reset }
        let good = try await TestUpstream { _ in .text(body: "from good") }
        let proxy = try await ProxyHarness.start(services: [
            ("svc", ["127.0.0.1:\(bad.port)", "127.0.0.1:\(good.port)"])
        ])
        let client = try await proxy.client()
        for _ in 0..<4 { #expect(try await Self.get(client).bodyText == "from good") }
        #expect(good.requests.count == 4)
        #expect(bad.requests.count == 2, "round robin sends every other first try to the bad endpoint")
        await client.close()
        await proxy.stop()
        await bad.stop()
        await good.stop()
    }

    @Test func postWithoutIdempotencyKey_isNeverRetried_withOneIsRetried() async throws {
        let bad = try await TestUpstream { _ in .reset }
        let good = try await TestUpstream { _ in .text(body: "stored") }
        let proxy = try await ProxyHarness.start(services: [
            ("svc", ["127.0.0.1:\(bad.port)", "127.0.0.1:\(good.port)"])
        ])
        let client = try await proxy.client()
        try await client.send("POST /pay HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\n\r\nhello")
        let refused = try await client.readResponse()
        #expect(refused.value("x-outrigger-error") == "upstream_reset")
        #expect(bad.requests.count + good.requests.count == 1, "a POST reached the upstreams more than once")
        // The next first try goes to the good endpoint (round robin); send one that goes to the bad one first.
        try await client.send("POST /skip HTTP/1.1\r\nHost: svc\r\nContent-Length: 0\r\n\r\n")
        _ = try await client.readResponse()
        try await client.send(
            "POST /pay HTTP/1.1\r\nHost: svc\r\nIdempotency-Key: k-1\r\nContent-Length: 5\r\n\r\nhello")
        let retried = try await client.readResponse()
        #expect(retried.bodyText == "stored")
        #expect(good.requests.last?.bodyText == "hello", "the replayed body reached the second endpoint whole")
        await client.close()
        await proxy.stop()
        await bad.stop()
        await good.stop()
    }

    @Test func retryableStatus_isHeldAndRetried_theClientNeverSeesIt() async throws {
        let busy = try await TestUpstream { _ in .text("503 Service Unavailable", body: "busy") }
        let good = try await TestUpstream { _ in .text(body: "served") }
        let proxy = try await ProxyHarness.start(services: [
            ("svc", ["127.0.0.1:\(busy.port)", "127.0.0.1:\(good.port)"])
        ])
        let client = try await proxy.client()
        for _ in 0..<4 { #expect(try await Self.get(client).bodyText == "served") }
        #expect(busy.requests.count == 2)
        await client.close()
        await proxy.stop()
        await busy.stop()
        await good.stop()
    }

    @Test func retriesExhausted_returnTheUpstreamsOwnAnswer() async throws {
        try await withProxy(
            behaviour: { _ in .text("503 Service Unavailable", headers: [("X-From", "upstream")], body: "busy") },
            configure: { _, policy in
                policy.retries.attempts = 2
                policy.breaker.consecutiveFailures = 100
            }
        ) { upstream, proxy in
            let client = try await proxy.client()
            let response = try await Self.get(client)
            #expect(response.status == 503)
            #expect(response.value("x-from") == "upstream")
            #expect(response.value("x-outrigger-error") == nil)
            #expect(upstream.requests.count == 3)
            await client.close()
        }
    }

    @Test func retryBudget_stopsARetryStorm() async throws {
        try await withProxy(
            behaviour: { _ in .reset },
            configure: { _, policy in
                policy.retries.attempts = 2
                policy.retries.budgetPercent = 0  // only the floor of 3 retries per window
                policy.breaker.consecutiveFailures = 1000
                policy.breaker.minimumRequests = 1000
            }
        ) { upstream, proxy in
            let client = try await proxy.client()
            for _ in 0..<10 {
                #expect(try await Self.get(client).value("x-outrigger-error") == "upstream_reset")
            }
            #expect(upstream.requests.count == 10 + RetryBudget.floor)
            let counters = try #require(proxy.server.state().services["svc"]).counters
            #expect(counters.retries.load(ordering: .relaxed) == RetryBudget.floor)
            #expect(counters.budgetExhausted.load(ordering: .relaxed) > 0)
            await client.close()
        }
    }

    @Test func concurrencyLimit_answersOverloadedAtOnce() async throws {
        try await withProxy(
            behaviour: { request in request.startLine.contains("/slow") ? .hang : .text(body: "ok") },
            configure: { _, policy in
                policy.maxConcurrentRequests = 1
                policy.retries.attempts = 0
            }
        ) { upstream, proxy in
            let slow = try await proxy.client()
            try await slow.send("GET /slow HTTP/1.1\r\nHost: svc\r\n\r\n")
            let clock = ContinuousClock()
            try await upstream.waitForRequests()
            let other = try await proxy.client()
            let response = try await Self.get(other)
            #expect(response.status == 503)
            #expect(response.value("x-outrigger-error") == "overloaded")
            #expect(upstream.requests.count == 1)
            await slow.close()
            // Once the slow one is gone the slot is free again.
            let deadline2 = clock.now + .seconds(10)
            var later = try await Self.get(other)
            while later.value("x-outrigger-error") == "overloaded" && clock.now < deadline2 {
                try await Task.sleep(for: .milliseconds(20))
                later = try await Self.get(other)
            }
            #expect(later.bodyText == "ok")
            await other.close()
        }
    }

    @Test func timeoutHeader_shortensButNeverLengthens() async throws {
        try await withProxy(
            behaviour: { _ in .hang },
            configure: { _, policy in
                policy.requestTimeoutMs = 60_000
                policy.retries.attempts = 0
            }
        ) { _, proxy in
            let client = try await proxy.client()
            let start = ContinuousClock.now
            let response = try await Self.get(client, headers: "x-outrigger-timeout-ms: 200\r\n")
            #expect(response.value("x-outrigger-error") == "upstream_timeout")
            #expect(ContinuousClock.now - start < .seconds(30), "the header did not shorten the 60 s timeout")
            await client.close()
        }
        #expect(ProxyHandler.deadline(policy: ServicePolicy(), header: "999999999", nowMs: 0) == 15_000)
        #expect(ProxyHandler.deadline(policy: ServicePolicy(), header: "abc", nowMs: 0) == 15_000)
        #expect(ProxyHandler.deadline(policy: ServicePolicy(), header: "-5", nowMs: 0) == 15_000)
        #expect(ProxyHandler.deadline(policy: ServicePolicy(), header: "100", nowMs: 0) == 100)
    }

    @Test func endpointThatCannotConnect_isEjected_andTrafficGoesToTheOther() async throws {
        let dead = try await ErrorResponseTests.closedPort()
        let good = try await TestUpstream { _ in .text(body: "alive") }
        let proxy = try await ProxyHarness.start(
            services: [("svc", ["127.0.0.1:\(dead)", "127.0.0.1:\(good.port)"])],
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 1000
                policy.breaker.minimumRequests = 1000
            })
        let client = try await proxy.client()
        var failures = 0
        for _ in 0..<10 where try await Self.get(client).value("x-outrigger-error") == "upstream_connect_failed" {
            failures += 1
        }
        #expect(failures == 5)
        for _ in 0..<6 { #expect(try await Self.get(client).bodyText == "alive") }
        let service = try #require(proxy.server.state().services["svc"])
        #expect(service.counters.ejections.load(ordering: .relaxed) == 1)
        #expect(service.state.withLockedValue { $0.endpoints.health[0].ejectedUntilMs } != nil)
        await client.close()
        await proxy.stop()
        await good.stop()
    }
}
