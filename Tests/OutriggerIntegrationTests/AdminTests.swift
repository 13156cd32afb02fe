import Foundation
import Testing

@testable import OutriggerCore

/// SPEC §7 live: every admin endpoint with real traffic behind the numbers.
@Suite("Admin API (SPEC §7)")
struct AdminTests {
    static func json(_ message: WireMessage) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(message.body)) as? [String: Any])
    }

    static func get(_ client: RawClient, host: String = "svc", path: String = "/") async throws -> WireMessage {
        try await client.send("GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        return try await client.readResponse()
    }

    @Test func health_ready_unknownPaths_andWrongMethods() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])])
        let health = try await harness.call("GET", "/healthz")
        #expect(health.status == 200)
        #expect(health.bodyText == "ok\n")
        #expect(try await harness.call("GET", "/ready").status == 200)
        harness.runtime.ready.store(false, ordering: .relaxed)
        #expect(try await harness.call("GET", "/ready").status == 503)
        let missing = try await harness.call("GET", "/nope")
        #expect(missing.status == 404)
        #expect(try Self.json(missing)["error"] as? String == "not_found")
        let wrong = try await harness.call("POST", "/stats")
        #expect(wrong.status == 405)
        #expect(wrong.value("allow") == "GET")
        #expect(try Self.json(wrong)["error"] as? String == "method_not_allowed")
        #expect(try await harness.call("GET", "/breakers/svc/open").status == 405)
        #expect(try await harness.call("GET", "/breakers/ghost").status == 404)
        // The admin port never proxies.
        #expect(try await harness.call("GET", "http://svc/").status == 404)
        #expect(upstream.requests.isEmpty)
        await harness.stop()
        await upstream.stop()
    }

    @Test func stats_countResponsesByClass_errorsByCode_andLatency() async throws {
        let upstream = try await TestUpstream { request in
            request.startLine.contains("/busy") ? .text("503 Service Unavailable") : .text(body: "ok")
        }
        let dead = try await ErrorResponseTests.closedPort()
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"]), ("dead", ["127.0.0.1:\(dead)"])],
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 1000
                policy.breaker.minimumRequests = 1000
            })
        let client = try await harness.proxy.client()
        for _ in 0..<10 { #expect(try await Self.get(client, path: "/busy").status == 503) }
        for _ in 0..<4 { #expect(try await Self.get(client).status == 200) }
        for _ in 0..<3 { _ = try await Self.get(client, host: "dead") }
        _ = try await Self.get(client, host: "nowhere")
        await client.close()

        let stats = try Self.json(try await harness.call("GET", "/stats"))
        let services = try #require(stats["services"] as? [String: Any])
        let svc = try #require(services["svc"] as? [String: Any])
        #expect(svc["requests"] as? Int == 14)
        let responses = try #require(svc["responses"] as? [String: Int])
        #expect(responses["5xx"] == 10)
        #expect(responses["2xx"] == 4)
        let latency = try #require(svc["latency_ms"] as? [String: Any])
        #expect(latency["count"] as? Int == 14)
        #expect((latency["p99"] as? Double ?? -1) >= (latency["p50"] as? Double ?? 0))
        #expect((latency["max"] as? Double ?? 0) > 0)
        let deadStats = try #require(services["dead"] as? [String: Any])
        let errors = try #require(deadStats["errors"] as? [String: Int])
        #expect(errors["upstream_connect_failed"] == 3)
        #expect((stats["requests"] as? Int ?? 0) >= 18)
        let connections = try #require(stats["connections"] as? [String: Any])
        #expect(connections["total"] as? Int == 1)
        #expect(connections["upgraded"] as? [String: Int] == ["open": 0, "total": 0])
        await harness.stop()
        await upstream.stop()
    }

    @Test func breakers_tellWhichServiceSinceWhenAndWhy() async throws {
        let upstream = try await TestUpstream { _ in .reset }
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])],
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 3
            })
        let client = try await harness.proxy.client()
        for _ in 0..<3 { _ = try await Self.get(client) }
        await client.close()
        let all = try Self.json(try await harness.call("GET", "/breakers"))
        let list = try #require(all["breakers"] as? [[String: Any]])
        #expect(list.count == 1)
        let breaker = try Self.json(try await harness.call("GET", "/breakers/svc"))
        #expect(breaker["state"] as? String == "open")
        #expect(breaker["forced"] as? Bool == false)
        #expect(breaker["trips"] as? Int == 1)
        #expect(breaker["retry_at"] as? String != nil)
        #expect(breaker["since"] as? String != nil)
        let failures = try #require(breaker["last_failures"] as? [[String: Any]])
        #expect(failures.count == 3)
        #expect(failures.first?["code"] as? String == "upstream_reset")
        #expect(failures.first?["endpoint"] as? String == "127.0.0.1:\(upstream.port)")
        let config = try #require(breaker["config"] as? [String: Any])
        #expect(config["consecutive_failures"] as? Int == 3)
        await harness.stop()
        await upstream.stop()
    }

    @Test func forcingABreakerOpen_rejectsRequests_andResetLetsThemPass() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])])
        let client = try await harness.proxy.client()
        #expect(try await Self.get(client).status == 200)
        let opened = try await harness.call("POST", "/breakers/svc/open")
        #expect(opened.status == 200)
        #expect(try Self.json(opened)["forced"] as? Bool == true)
        #expect(try Self.json(opened)["state"] as? String == "open")
        let rejected = try await Self.get(client)
        #expect(rejected.value("x-outrigger-error") == "breaker_open")
        #expect(rejected.value("retry-after") != nil)
        #expect(upstream.requests.count == 1)
        let reset = try await harness.call("POST", "/breakers/svc/reset")
        #expect(try Self.json(reset)["state"] as? String == "closed")
        #expect(try Self.json(reset)["forced"] as? Bool == false)
        #expect(try await Self.get(client).status == 200)
        _ = try await harness.call("POST", "/breakers/svc/close")
        #expect(try Self.json(try await harness.call("GET", "/breakers/svc"))["forced"] as? Bool == true)
        await client.close()
        await harness.stop()
        await upstream.stop()
    }

    @Test func services_showEndpointHealth_andConfig_showsTheRunningListener() async throws {
        let dead = try await ErrorResponseTests.closedPort()
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(dead)", "127.0.0.1:\(upstream.port)"])],
            configure: { config, policy in
                config.admin.token = nil
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 1000
                policy.breaker.minimumRequests = 1000
            })
        let client = try await harness.proxy.client()
        for _ in 0..<10 { _ = try await Self.get(client) }
        await client.close()
        let services = try #require(
            try Self.json(try await harness.call("GET", "/services"))["services"] as? [[String: Any]])
        let endpoints = try #require(services.first?["endpoints"] as? [[String: Any]])
        #expect(endpoints[0]["healthy"] as? Bool == false)
        #expect(endpoints[0]["ejected_until"] as? String != nil)
        #expect(endpoints[1]["healthy"] as? Bool == true)
        // Redaction and types of /config: AdminContractTests.config_numbersAreNumbers_listsAreLists_andNoSecretLeaks.
        let config = try Self.json(try await harness.call("GET", "/config"))
        #expect(config["listen"] as? String == "127.0.0.1:0")
        let admin = try #require(config["admin"] as? [String: Any])
        #expect(admin["token"] is NSNull, "no token configured, none shown")
        await harness.stop()
        await upstream.stop()
    }

    @Test func token_isRequired_whenConfigured_andRedactedInConfig() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])], token: "s3cret",
            configure: { config, _ in config.admin.token = "s3cret" })
        #expect(try await harness.call("GET", "/stats").status == 401)
        #expect(try await harness.call("GET", "/stats", headers: "Authorization: Bearer wrong\r\n").status == 401)
        let ok = try await harness.call("GET", "/config", headers: "Authorization: Bearer s3cret\r\n")
        #expect(ok.status == 200)
        #expect(!ok.bodyText.contains("s3cret"))
        #expect(ok.bodyText.contains("<redacted>"))
        #expect(AdminRouter.constantTimeEquals("abc", "abc"))
        #expect(!AdminRouter.constantTimeEquals("abc", "abd"))
        #expect(!AdminRouter.constantTimeEquals("abc", "abcd"))
        await harness.stop()
        await upstream.stop()
    }

    @Test func publicAdminAddress_withoutToken_isRefusedAtStart() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])])
        await #expect(throws: ListenError.self) {
            _ = try await AdminServer.start(
                runtime: harness.runtime, address: .inet(host: "0.0.0.0", port: 0), token: nil)
        }
        await harness.stop()
        await upstream.stop()
    }
}
