import Testing

@testable import OutriggerCore

@Suite("Durations, addresses and endpoints")
struct ParsingTests {
    @Test(
        arguments: [("250ms", 250), ("2s", 2000), ("1m", 60_000), ("1h", 3_600_000), ("0", 0), ("15s", 15_000)]
            as [(String, Int64)])
    func duration_parsesSpecNotation(text: String, ms: Int64) {
        #expect(ConfigDuration.milliseconds(from: text) == ms)
        #expect(ConfigDuration.milliseconds(from: ConfigDuration.format(milliseconds: ms)) == ms)
    }

    @Test(arguments: ["", "s", "10", "1.5s", "10 s", "-1s", "2d", "ms", "1sm"])
    func duration_rejectsAnythingElse(text: String) {
        #expect(ConfigDuration.milliseconds(from: text) == nil)
    }

    @Test func listenAddress_parsesIPv4IPv6AndUnix() throws {
        #expect(try ListenAddress.parse("127.0.0.1:15001").get() == .inet(host: "127.0.0.1", port: 15001))
        #expect(try ListenAddress.parse("[::1]:80").get() == .inet(host: "::1", port: 80))
        #expect(try ListenAddress.parse("unix:/run/o.sock").get() == .unix(path: "/run/o.sock"))
        for bad in ["127.0.0.1", "::1:80", "[::1]", "1.2.3:80", "127.0.0.1:70000", "unix:", "example.com:80"] {
            #expect(throws: AddressError.self, "\(bad)") { try ListenAddress.parse(bad).get() }
        }
    }

    @Test func endpoint_parsesEveryForm() throws {
        let plain = try Endpoint.parse("127.0.0.1:8081").get()
        #expect(plain.curlBaseURL == "http://127.0.0.1:8081/")
        let https = try Endpoint.parse("https://api.internal").get()
        #expect(https.port == 443)
        #expect(https.curlBaseURL == "https://api.internal:443/")
        let v6 = try Endpoint.parse("http://[::1]:9000").get()
        #expect(v6.curlBaseURL == "http://[::1]:9000/")
        let unix = try Endpoint.parse("unix:/tmp/s.sock").get()
        #expect(unix.socketPath == "/tmp/s.sock")
    }
}

@Suite("Routing (SPEC §3)")
struct RouterTests {
    func router(_ routes: [OutriggerConfig.Route] = []) -> Router {
        let services = ["orders", "payments"].map {
            ServiceRuntime(config: ServiceConfig(name: $0, endpoints: [try! Endpoint.parse("127.0.0.1:1").get()]))
        }
        return Router(routes: routes, services: Dictionary(uniqueKeysWithValues: services.map { ($0.name, $0) }))
    }

    @Test func host_withoutPort_lowerCased_namesTheService() throws {
        let match = try self.router().route(target: "/x?y", hostHeader: "Orders:8080").get()
        #expect(match.service.name == "orders")
        #expect(match.target == "/x?y")
    }

    @Test func routes_comeFirst_inOrder_withOptionalHost() throws {
        let router = self.router([
            .init(pathPrefix: "/pay/", host: "api", service: "payments", stripPrefix: true),
            .init(pathPrefix: "/pay/", service: "orders"),
        ])
        let first = try router.route(target: "/pay/1", hostHeader: "API").get()
        #expect(first.service.name == "payments")
        #expect(first.target == "/1")
        let second = try router.route(target: "/pay/1", hostHeader: "other").get()
        #expect(second.service.name == "orders")
        #expect(second.target == "/pay/1")
    }

    @Test func unlistedHost_isUnknownService() {
        guard case .failure(let error) = self.router().route(target: "/", hostHeader: "evil.com") else {
            Issue.record("routed an unlisted host")
            return
        }
        #expect(error.code == .unknownService)
        #expect(error.code.status == 404)
    }

    @Test func absoluteForm_usesTheTargetAuthority() throws {
        let match = try self.router().route(target: "http://payments:81/a?b", hostHeader: "orders").get()
        #expect(match.service.name == "payments")
        #expect(match.target == "/a?b")
        guard case .failure = self.router().route(target: "http://evil.com/", hostHeader: "orders") else {
            Issue.record("absolute-form to an unlisted host was routed")
            return
        }
    }

    @Test func roundRobin_cyclesThroughEndpoints() throws {
        let endpoints = try ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"].map { try Endpoint.parse($0).get() }
        let service = ServiceRuntime(config: ServiceConfig(name: "s", endpoints: endpoints))
        let picked = (0..<6).map { _ -> Int in
            guard case .admitted(_, _, let endpoint) = service.admitTry(firstTry: true, avoid: nil) else { return 0 }
            return endpoint.port
        }
        #expect(picked == [1, 2, 3, 1, 2, 3])
    }
}
