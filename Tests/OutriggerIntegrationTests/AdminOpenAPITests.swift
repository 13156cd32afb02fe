import Foundation
import Testing

@testable import OutriggerCore

/// SPEC §14–15 on the admin API live: the OpenAPI document is served and holds the router to it (every documented
/// operation routed, every other method 405 with its `Allow`), the JSON index lists its paths, the page is served to
/// a browser without a token, and `/history` follows traffic. Schemathesis checks the shapes (scripts/openapi.sh).
@Suite("Admin API's OpenAPI document, page and history (SPEC §14, §15)")
struct AdminOpenAPITests {
    static let bearer = "Authorization: Bearer s3cret\r\n"

    @Test func everyDocumentedOperationIsRouted_andEveryOtherMethodIs405() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])], token: "s3cret",
            configure: { config, _ in config.admin.token = "s3cret" })
        let served = try await harness.call("GET", "/openapi.json", headers: Self.bearer)
        #expect(served.status == 200)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(served.body)) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        #expect(Set(paths.keys) == Set(AdminOpenAPI.paths))
        #expect(AdminOpenAPI.operations.count == paths.count)
        for (template, methods) in AdminOpenAPI.operations {
            let path = template.replacingOccurrences(of: "{name}", with: "svc")
            for method in methods {
                // PUT /faults needs a body; an empty one is a documented 400, still routed.
                let response = try await harness.call(method, path, headers: Self.bearer)
                #expect(![404, 405].contains(response.status), "\(method) \(path): \(response.status)")
            }
            for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] where !methods.contains(method) {
                let response = try await harness.call(method, path, headers: Self.bearer)
                #expect(response.status == 405, "\(method) \(path) answered \(response.status)")
                let allowed = Set(
                    (response.value("allow") ?? "").split(separator: ",").map {
                        $0.trimmingCharacters(in: .whitespaces)
                    })
                #expect(allowed == Set(methods), "\(method) \(path): allow \(allowed) documented \(methods)")
            }
        }
        // Which methods a path takes does not depend on the registry: an unknown name still gets 405.
        #expect(try await harness.call("PATCH", "/faults/nosuch", headers: Self.bearer).status == 405)
        #expect(try await harness.call("GET", "/breakers/nosuch/open", headers: Self.bearer).status == 405)
        #expect(try await harness.call("POST", "/breakers/nosuch/open", headers: Self.bearer).status == 404)
        await harness.stop()
        await upstream.stop()
    }

    @Test func thePageNeedsNoToken_theIndexDoes() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])], token: "s3cret",
            configure: { config, _ in config.admin.token = "s3cret" })
        let page = try await harness.call("GET", "/", headers: "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n")
        #expect(page.status == 200)
        #expect(page.value("content-type") == "text/html; charset=utf-8")
        #expect(page.value("content-security-policy")?.hasPrefix("default-src 'none'") == true)
        #expect(page.bodyText.contains("<title>Outrigger</title>"))
        #expect(!page.bodyText.contains("s3cret"))
        #expect(try await harness.call("GET", "/").status == 401)
        let index = try await harness.call("GET", "/", headers: Self.bearer)
        #expect(index.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(index.body)) as? [String: Any])
        #expect(object["endpoints"] as? [String] == AdminOpenAPI.paths)
        await harness.stop()
        await upstream.stop()
    }

    @Test func historyFollowsTraffic() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])])
        // The admin loop ticks once a second: poll until a tick holds the requests sent, with a deadline.
        let deadline = ContinuousClock.now + .seconds(20)
        var seen = 0
        let client = try await harness.proxy.client()
        while seen == 0 {
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
            let history = try await harness.call("GET", "/history")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(history.body)) as? [String: Any])
            let services = try #require(object["services"] as? [[String: Any]])
            #expect(services.first?["name"] as? String == "svc")
            seen = (services.first?["requests"] as? [Int] ?? []).reduce(0, +)
            if seen == 0 {
                #expect(ContinuousClock.now < deadline, "no request in /history after 20 s")
                if ContinuousClock.now >= deadline { break }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        await client.close()
        // ?since= gives only the later ticks, each column cut to them; a bad value is a 400.
        let whole = try #require(
            try JSONSerialization.jsonObject(with: Data(try await harness.call("GET", "/history").body))
                as? [String: Any])
        let times = try #require(whole["times_ms"] as? [Int64])
        let since = times[times.count - 1]
        let later = try #require(
            try JSONSerialization.jsonObject(with: Data(try await harness.call("GET", "/history?since=\(since)").body))
                as? [String: Any])
        let laterTimes = try #require(later["times_ms"] as? [Int64])
        #expect(laterTimes.allSatisfy { $0 > since })
        let laterService = try #require((later["services"] as? [[String: Any]])?.first)
        #expect((laterService["requests"] as? [Int])?.count ?? -1 <= laterTimes.count)
        let bad = try await harness.call("GET", "/history?since=yesterday")
        #expect(bad.status == 400)
        #expect(bad.bodyText.contains("\"bad_request\""))
        await harness.stop()
        await upstream.stop()
    }
}

@Suite("Admin API and browsers: another site's page cannot change anything")
struct AdminCrossOriginTests {
    @Test func changesFromAnotherSitesPageAreRefused_theAdminPagesOwnAreNot() async throws {
        let upstream = try await TestUpstream()
        let harness = try await AdminHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])])
        let host = "127.0.0.1:\(harness.adminPort)"
        for headers in [
            "Origin: http://evil.example\r\n", "Origin: null\r\n", "Sec-Fetch-Site: cross-site\r\n",
            "Sec-Fetch-Site: same-site\r\nOrigin: http://127.0.0.1:\(harness.adminPort)\r\n",
        ] {
            let response = try await harness.call("POST", "/breakers/svc/open", headers: headers)
            #expect(response.status == 403, "\(headers)")
            #expect(response.bodyText.contains("\"cross_origin\""))
        }
        #expect(try AdminTests.json(try await harness.call("GET", "/breakers/svc"))["forced"] as? Bool == false)
        // Reads stay open to any page's navigation; the admin page's own fetches and curl's calls act.
        #expect(try await harness.call("GET", "/stats", headers: "Origin: http://evil.example\r\n").status == 200)
        let own = try await harness.call(
            "POST", "/breakers/svc/open", headers: "Origin: http://\(host)\r\nSec-Fetch-Site: same-origin\r\n")
        #expect(own.status == 200)
        // Without Sec-Fetch-Site (an older browser), an Origin naming this host (the harness sends Host: admin).
        #expect(
            try await harness.call("POST", "/breakers/svc/close", headers: "Origin: http://admin\r\n").status == 200)
        #expect(try await harness.call("POST", "/breakers/svc/reset").status == 200)
        await harness.stop()
        await upstream.stop()
    }
}
