import NIOCore
import Testing

@testable import OutriggerCore

/// SPEC §5 and §17 timeouts live: slow, trickling, stalled and unreachable upstreams against the real proxy.
@Suite("Timeouts live (SPEC §5, §17)")
struct TimeoutTests {
    static func get(_ client: RawClient, timeout: Duration = .seconds(10)) async throws -> WireMessage {
        try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
        return try await client.readResponse(timeout: timeout)
    }

    static func failedTries(_ proxy: ProxyHarness, _ code: OutriggerError.Code) -> Int {
        let service = proxy.server.state().services["svc"]!
        let index = OutriggerError.Code.allCases.firstIndex(of: code)!
        return service.counters.failedTriesByCode[index].load(ordering: .relaxed)
    }

    static func errors(_ proxy: ProxyHarness, _ code: OutriggerError.Code) -> Int {
        let service = proxy.server.state().services["svc"]!
        let index = OutriggerError.Code.allCases.firstIndex(of: code)!
        return service.counters.errorsByCode[index].load(ordering: .relaxed)
    }

    @Test func slowButHealthyUpstream_withTheDefaults_isNotCutOff() async throws {
        // The defaults have no per_try_timeout (SPEC §17): a GET answered after 1.5 s is a 200, not a 504.
        let answer = Array("HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow".utf8)
        try await withProxy(behaviour: { _ in .delayed(milliseconds: 1500, answer) }) { upstream, proxy in
            let client = try await proxy.client()
            let response = try await Self.get(client)
            #expect(response.status == 200)
            #expect(response.bodyText == "slow")
            #expect(upstream.requests.count == 1)
            #expect(Self.failedTries(proxy, .upstreamTimeout) == 0)
            await client.close()
        }
    }

    @Test func perTryTimeout_isRetriedOnTheOtherEndpoint_underTheDefaultRetryOn() async throws {
        let slow = try await TestUpstream { _ in .hang }
        let fast = try await TestUpstream { _ in .text(body: "fast") }
        let proxy = try await ProxyHarness.start(
            services: [("svc", ["127.0.0.1:\(slow.port)", "127.0.0.1:\(fast.port)"])],
            configure: { _, policy in policy.retries.perTryTimeoutMs = 200 })
        let client = try await proxy.client()
        // Round robin sends the first try to the slow endpoint: it times out after 200 ms and is retried.
        let response = try await Self.get(client)
        #expect(response.status == 200)
        #expect(response.bodyText == "fast")
        #expect(slow.requests.count == 1)
        #expect(fast.requests.count == 1)
        #expect(Self.failedTries(proxy, .upstreamTimeout) == 1, "the timed-out try is counted")
        #expect(Self.errors(proxy, .upstreamTimeout) == 0, "the client got no error")
        await client.close()
        await proxy.stop()
        await slow.stop()
        await fast.stop()
    }

    @Test func perTryTimeout_onEveryTry_is504_afterAllAttempts() async throws {
        try await withProxy(
            behaviour: { _ in .hang },
            configure: { _, policy in
                policy.retries.perTryTimeoutMs = 100
                policy.retries.attempts = 2
            }
        ) { upstream, proxy in
            let client = try await proxy.client()
            let response = try await Self.get(client)
            #expect(response.status == 504)
            #expect(response.value("x-outrigger-error") == "upstream_timeout")
            #expect(response.bodyText.contains("per_try_timeout"))
            try await upstream.waitForRequests(3)
            #expect(Self.failedTries(proxy, .upstreamTimeout) == 3)
            #expect(Self.errors(proxy, .upstreamTimeout) == 1)
            await client.close()
        }
    }

    @Test func idleTimeout_aTrickleKeepsTheExchangeAlive() async throws {
        // SPEC §17: one byte every 1.5 s under a 2 s idle_timeout is never idle for 2 s.
        let body = Array("abc".utf8)
        try await withProxy(
            behaviour: { _ in .trickle(head: "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", body: body, everyMs: 1500)
            },
            configure: { _, policy in policy.idleTimeoutMs = 2000 }
        ) { _, proxy in
            let client = try await proxy.client()
            let response = try await Self.get(client, timeout: .seconds(20))
            #expect(response.status == 200)
            #expect(response.bodyText == "abc")
            #expect(Self.failedTries(proxy, .upstreamTimeout) == 0)
            await client.close()
        }
    }

    @Test func idleTimeout_aStallAfterTheHead_closesTheConnection_andIsCounted() async throws {
        try await withProxy(
            behaviour: { _ in
                .trickle(head: "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", body: Array("a".utf8), everyMs: 60_000)
            },
            configure: { _, policy in policy.idleTimeoutMs = 300 }
        ) { _, proxy in
            let client = try await proxy.client()
            let clock = ContinuousClock()
            let started = clock.now
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            try await client.waitForClose(timeout: .seconds(10))
            let elapsed = clock.now - started
            #expect(elapsed >= .milliseconds(300), "closed before idle_timeout: \(elapsed)")
            let received = client.state.withLockedValue { String(decoding: $0.received, as: UTF8.self) }
            #expect(received.hasPrefix("HTTP/1.1 200 OK"), "the head went out before the stall")
            #expect(Self.errors(proxy, .upstreamTimeout) == 1)
        }
    }

    @Test func idleTimeout_aSilentUpstream_is504_whenNoRetryIsLeft() async throws {
        try await withProxy(
            behaviour: { _ in .hang },
            configure: { _, policy in
                policy.idleTimeoutMs = 250
                policy.retries.attempts = 0
            }
        ) { _, proxy in
            let client = try await proxy.client()
            let response = try await Self.get(client)
            #expect(response.status == 504)
            #expect(response.value("x-outrigger-error") == "upstream_timeout")
            #expect(response.bodyText.contains("idle_timeout"))
            await client.close()
        }
    }

    @Test func connectTimeout_live_is504_upstreamConnectTimeout() async throws {
        let blackhole = try BlackholeListener()
        let proxy = try await ProxyHarness.start(
            services: [("svc", ["127.0.0.1:\(blackhole.port)"])],
            configure: { _, policy in
                policy.connectTimeoutMs = 200
                policy.retries.attempts = 0
            })
        let client = try await proxy.client()
        let clock = ContinuousClock()
        let started = clock.now
        let response = try await Self.get(client)
        #expect(clock.now - started >= .milliseconds(200))
        #expect(response.status == 504)
        #expect(response.value("x-outrigger-error") == "upstream_connect_timeout")
        #expect(Self.errors(proxy, .upstreamConnectTimeout) == 1)
        await client.close()
        await proxy.stop()
        withExtendedLifetime(blackhole) {}
    }
}
