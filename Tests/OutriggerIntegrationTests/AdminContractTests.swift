import Foundation
import Testing

@testable import OutriggerCore

/// SPEC §16 and §17 on the admin API live: tokenless probes, where tokens come from, breaker state that follows
/// the clock, `/config` types, forced states that hold, and reload answered off the event loop.
@Suite("Admin API contract (SPEC §16, §17)")
struct AdminContractTests {
    static let bearer = "Authorization: Bearer s3cret\r\n"

    @Test func probes_needNoToken_everythingElseDoes() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])], token: "s3cret",
            configure: { config, _ in config.admin.token = "s3cret" })
        let health = try await harness.call("GET", "/healthz")
        #expect(health.status == 200)
        #expect(health.bodyText == "ok\n")
        let ready = try await harness.call("GET", "/ready")
        #expect(ready.status == 200)
        #expect(ready.bodyText == "{\"ready\":true}\n")
        harness.runtime.ready.store(false, ordering: .relaxed)
        let notReady = try await harness.call("GET", "/ready")
        #expect(notReady.status == 503)
        #expect(notReady.bodyText == "{\"ready\":false}\n")
        for path in ["/stats", "/metrics", "/breakers", "/breakers/svc", "/services", "/config"] {
            let refused = try await harness.call("GET", path)
            #expect(refused.status == 401, "\(path) answered without a token")
            #expect(refused.value("www-authenticate") == "Bearer")
            #expect(try await harness.call("GET", path, headers: Self.bearer).status == 200, "\(path)")
        }
        for path in ["/breakers/svc/open", "/breakers/svc/reset", "/reload"] {
            #expect(try await harness.call("POST", path).status == 401, "\(path) acted without a token")
        }
        // A path that only looks like a probe is not one.
        #expect(try await harness.call("GET", "/healthz/x").status == 401)
        await harness.stop()
        await upstream.stop()
    }

    @Test func breakerState_followsTheClock_withNoTraffic() async throws {
        let upstream = try await TestUpstream { _ in .reset }
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])],
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 2
                // Long enough to read `open` first even on a slow (sanitizer) build.
                policy.breaker.openForMs = 1500
            })
        let client = try await harness.proxy.client()
        for _ in 0..<2 {
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            _ = try await client.readResponse()
        }
        await client.close()
        let open = try AdminTests.json(try await harness.call("GET", "/breakers/svc"))
        #expect(open["state"] as? String == "open")
        let seen = upstream.requests.count
        // No request from here on: after open_for the API says half_open by itself, everywhere.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        var state = open["state"] as? String
        while state == "open" && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            state = try AdminTests.json(try await harness.call("GET", "/breakers/svc"))["state"] as? String
        }
        #expect(state == "half_open")
        let breaker = try AdminTests.json(try await harness.call("GET", "/breakers/svc"))
        #expect(breaker["retry_at"] is NSNull || breaker["retry_at"] == nil)
        let stats = try AdminTests.json(try await harness.call("GET", "/stats"))
        let services = try #require(stats["services"] as? [String: Any])
        let svc = try #require(services["svc"] as? [String: Any])
        #expect(svc["breaker_state"] as? String == "half_open")
        let metrics = try await harness.call("GET", "/metrics").bodyText
        #expect(metrics.contains("outrigger_breaker_state{service=\"svc\",state=\"half_open\"} 1"))
        #expect(metrics.contains("outrigger_breaker_state{service=\"svc\",state=\"open\"} 0"))
        #expect(upstream.requests.count == seen, "reading the state sent a request upstream")
        await harness.stop()
        await upstream.stop()
    }

    @Test func forcedClose_keepsPassingRequests_throughFailures() async throws {
        let upstream = try await TestUpstream { _ in .text("503 Service Unavailable") }
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])],
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 2
            })
        let closed = try await harness.call("POST", "/breakers/svc/close")
        #expect(closed.status == 200)
        #expect(try AdminTests.json(closed)["state"] as? String == "closed")
        #expect(try AdminTests.json(closed)["forced"] as? Bool == true)
        let client = try await harness.proxy.client()
        for _ in 0..<6 {
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 503)
            #expect(response.value("x-outrigger-error") == nil, "a forced-closed breaker rejected a request")
        }
        #expect(upstream.requests.count == 6)
        let after = try AdminTests.json(try await harness.call("GET", "/breakers/svc"))
        #expect(after["state"] as? String == "closed")
        #expect(after["trips"] as? Int == 0)
        // Reset returns to automatic: the next two failures trip it.
        _ = try await harness.call("POST", "/breakers/svc/reset")
        for _ in 0..<3 {
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            _ = try await client.readResponse()
        }
        #expect(try AdminTests.json(try await harness.call("GET", "/breakers/svc"))["state"] as? String == "open")
        await client.close()
        await harness.stop()
        await upstream.stop()
    }

    @Test func config_numbersAreNumbers_listsAreLists_andNoSecretLeaks() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])], token: "tok-VERY-secret",
            configure: { config, policy in
                config.admin.token = "tok-VERY-secret"
                config.admin.tokenSource = .config
                config.workers = 1
                config.tracing.formats = [.w3c, .b3]
                config.tracing.sampleRatio = 0.25
                policy.retries.retryOn = [.connectFailure, .status(503)]
            })
        let response = try await harness.call("GET", "/config", headers: "Authorization: Bearer tok-VERY-secret\r\n")
        #expect(!response.bodyText.contains("tok-VERY-secret"))
        let config = try AdminTests.json(response)
        let admin = try #require(config["admin"] as? [String: Any])
        #expect(admin["token"] as? String == "<redacted>")
        #expect(admin["token_source"] as? String == "admin.token")
        #expect(config["workers"] as? Int == 1)
        let limits = try #require(config["limits"] as? [String: Any])
        #expect(limits["max_connections"] as? Int == 10_000)
        #expect(limits["max_request_body_bytes"] as? Int == 0)
        #expect(limits["header_read_timeout"] as? String == "10s")
        let tracing = try #require(config["tracing"] as? [String: Any])
        #expect(tracing["formats"] as? [String] == ["w3c", "b3"])
        #expect(tracing["sample_ratio"] as? Double == 0.25)
        let services = try #require(config["services"] as? [String: Any])
        let svc = try #require(services["svc"] as? [String: Any])
        #expect(svc["endpoints"] as? [String] == ["127.0.0.1:\(upstream.port)"])
        let policy = try #require(svc["policy"] as? [String: Any])
        #expect(policy["max_concurrent_requests"] as? Int == 1024)
        let retries = try #require(policy["retries"] as? [String: Any])
        #expect(retries["attempts"] as? Int == 2)
        #expect(retries["per_try_timeout"] as? String == "0")
        let retryOn = try #require(retries["retry_on"] as? [Any])
        #expect(retryOn.count == 2)
        #expect(retryOn.first as? String == "connect_failure")
        #expect(retryOn.last as? Int == 503)
        let breaker = try #require(policy["breaker"] as? [String: Any])
        #expect(breaker["failure_rate"] as? Double == 0.5)
        await harness.stop()
        await upstream.stop()
    }

    @Test func tokenFromFile_andFromTheEnvironment_protectTheLiveAPI() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outrigger-tok-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "file-token\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
        try "admin:\n  token_file: token\n".write(toFile: folder + "/outrigger.yaml", atomically: true, encoding: .utf8)
        try "services:\n  svc:\n    endpoints: [127.0.0.1:1]\n".write(
            toFile: folder + "/registry.yaml", atomically: true, encoding: .utf8)
        // The file wins over the environment, which applies only when the config names no token.
        let loaded = try ConfigLoader.load(
            configPath: folder + "/outrigger.yaml", environment: ["OUTRIGGER_ADMIN_TOKEN": "env-token"])
        let fromFile = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:1"])], token: loaded.config.admin.token,
            configure: { config, _ in config.admin = loaded.config.admin })
        #expect(try await fromFile.call("GET", "/stats").status == 401)
        #expect(try await fromFile.call("GET", "/stats", headers: "Authorization: Bearer env-token\r\n").status == 401)
        #expect(try await fromFile.call("GET", "/stats", headers: "Authorization: Bearer file-token\r\n").status == 200)
        #expect(try await fromFile.call("GET", "/healthz").status == 200)
        await fromFile.stop()
        try "admin:\n  listen: 127.0.0.1:0\n".write(
            toFile: folder + "/outrigger.yaml", atomically: true, encoding: .utf8)
        let fromEnv = try ConfigLoader.load(
            configPath: folder + "/outrigger.yaml", environment: ["OUTRIGGER_ADMIN_TOKEN": "env-token"])
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:1"])], token: fromEnv.config.admin.token,
            configure: { config, _ in config.admin = fromEnv.config.admin })
        #expect(try await harness.call("GET", "/services").status == 401)
        #expect(
            try await harness.call("GET", "/services", headers: "Authorization: Bearer env-token\r\n").status == 200)
        await harness.stop()
    }
}
