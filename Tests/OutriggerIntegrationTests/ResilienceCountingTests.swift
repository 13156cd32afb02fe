import Atomics
import Foundation
import Testing

@testable import OutriggerCore

/// SPEC §3 and §5 live, continued: least-request balancing, a failure-rate trip, every failure counted, and what
/// an outage writes to the log.
@Suite("Resilience live: balancing, failure rate, counting (SPEC §3, §5)")
struct ResilienceCountingTests {
    static func get(_ client: RawClient, _ path: String = "/") async throws -> WireMessage {
        try await client.send("GET \(path) HTTP/1.1\r\nHost: svc\r\n\r\n")
        return try await client.readResponse()
    }

    static func counter(_ counters: [ManagedAtomic<Int>], _ code: OutriggerError.Code) -> Int {
        counters[OutriggerError.Code.allCases.firstIndex(of: code)!].load(ordering: .relaxed)
    }

    @Test func leastRequest_sendsNewRequestsAwayFromABusyEndpoint() async throws {
        // `/hold` is never answered: its endpoint keeps one request in flight until the client gives up.
        let behaviour: @Sendable (String) -> (@Sendable (WireMessage) -> UpstreamAction) = { name in
            { request in request.startLine.contains("/hold") ? .hang : .text(body: name) }
        }
        let a = try await TestUpstream(behaviour: behaviour("a"))
        let b = try await TestUpstream(behaviour: behaviour("b"))
        let proxy = try await ProxyHarness.start(
            services: [("svc", ["127.0.0.1:\(a.port)", "127.0.0.1:\(b.port)"])],
            configure: { _, policy in policy.balance = .leastRequest })
        let holder = try await proxy.client()
        try await holder.send("GET /hold HTTP/1.1\r\nHost: svc\r\n\r\n")
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while a.requests.count + b.requests.count == 0 {
            guard clock.now < deadline else { throw TestTimeout(what: "the held request upstream") }
            try await Task.sleep(for: .milliseconds(5))
        }
        let busy = a.requests.isEmpty ? "b" : "a"
        let client = try await proxy.client()
        var answers: [String] = []
        for _ in 0..<10 { answers.append(try await Self.get(client).bodyText) }
        // Round robin would alternate; least request never picks the endpoint with one in flight.
        #expect(!answers.contains(busy), "least_request chose the busy endpoint: \(answers)")
        #expect(answers.count == 10)
        await holder.close()
        await client.close()
        await proxy.stop()
        await a.stop()
        await b.stop()
    }

    @Test func failureRate_tripsTheBreaker_beforeConsecutiveFailuresWould() async throws {
        let count = ManagedAtomic(0)
        let log = CapturedLog()
        let upstream = try await TestUpstream { _ in
            // success, failure, success, failure, ...: never two failures in a row.
            count.wrappingIncrementThenLoad(ordering: .relaxed) % 2 == 0
                ? .text("503 Service Unavailable") : .text(body: "ok")
        }
        let proxy = try await ProxyHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])], logger: log.logger(level: .warning),
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 100
                policy.breaker.failureRate = 0.5
                policy.breaker.minimumRequests = 10
            })
        let client = try await proxy.client()
        for _ in 0..<10 { _ = try await Self.get(client) }
        let rejected = try await Self.get(client)
        #expect(rejected.value("x-outrigger-error") == "breaker_open")
        #expect(upstream.requests.count == 10)
        let breaker = proxy.server.state().services["svc"]!.breakerNow()
        #expect(breaker.trips == 1)
        let trip = log.all.first { $0.message == "breaker closed -> open" }
        #expect(trip?.metadata["reason"] == "failure_rate=0.5 over 10 requests")
        await client.close()
        await proxy.stop()
        await upstream.stop()
    }

    @Test func everyFailure_isCounted_inStats_theAccessLog_andAsFailedTries() async throws {
        let path = NSTemporaryDirectory() + "outrigger-count-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let accessLog = try AccessLog(destination: .file(path))
        let bad = try await TestUpstream { _ in .reset }
        let worse = try await TestUpstream { _ in .reset }
        let proxy = try await ProxyHarness.start(
            services: [("svc", ["127.0.0.1:\(bad.port)", "127.0.0.1:\(worse.port)"])], accessLog: accessLog,
            configure: { _, policy in
                policy.retries.attempts = 1
                policy.retries.budgetPercent = 100
                policy.breaker.consecutiveFailures = 1000
                policy.breaker.minimumRequests = 1000
            })
        let client = try await proxy.client()
        let requests = 3
        for _ in 0..<requests {
            let response = try await Self.get(client)
            #expect(response.value("x-outrigger-error") == "upstream_reset")
        }
        await client.close()
        let counters = proxy.server.state().services["svc"]!.counters
        // Each request: a try, a retry on the other endpoint, both reset.
        #expect(Self.counter(counters.failedTriesByCode, .upstreamReset) == 2 * requests)
        #expect(Self.counter(counters.errorsByCode, .upstreamReset) == requests)
        #expect(counters.responsesByClass[4].load(ordering: .relaxed) == requests)
        #expect(counters.retries.load(ordering: .relaxed) == requests)
        #expect(bad.requests.count + worse.requests.count == 2 * requests)
        let lines = try await TracingLiveTests.readLines(path, count: requests)
        #expect(lines.count == requests)
        for line in lines {
            #expect(line["error"] as? String == "upstream_reset")
            #expect(line["status"] as? Int == 502)
            #expect(line["attempts"] as? Int == 2)
        }
        await proxy.stop()
        accessLog.shutdown()
        await bad.stop()
        await worse.stop()
    }

    @Test func anOutageOf100Requests_writesAHandfulOfLogLines_andCountsThemAll() async throws {
        let dead = try await ErrorResponseTests.closedPort()
        let log = CapturedLog()
        let proxy = try await ProxyHarness.start(
            services: [("svc", ["127.0.0.1:\(dead)"])], logger: log.logger(level: .info),
            configure: { _, policy in
                policy.retries.attempts = 0
                policy.breaker.consecutiveFailures = 1000
                policy.breaker.minimumRequests = 1000
            })
        let client = try await proxy.client()
        for _ in 0..<100 {
            let response = try await Self.get(client)
            #expect(response.value("x-outrigger-error") == "upstream_connect_failed")
        }
        await client.close()
        let counters = proxy.server.state().services["svc"]!.counters
        #expect(Self.counter(counters.errorsByCode, .upstreamConnectFailed) == 100)
        await proxy.stop()  // reports what is still counted
        let lines = log.all.filter { $0.level >= .warning }
        #expect(lines.count <= 5, "\(lines.map(\.message))")
        let first = lines.filter { $0.message == "upstream failure" }
        #expect(first.count == 1)
        #expect(first.first?.metadata["error.code"] == "upstream_connect_failed")
        #expect(first.first?.metadata["endpoint"] == "127.0.0.1:\(dead)")
        let repeated = lines.filter { $0.message == "upstream failures repeated" }
        let total = repeated.compactMap { Int($0.metadata["count"] ?? "") }.reduce(0, +)
        #expect(total == 99, "every failure after the first is in a count")
    }
}
