import Testing

@testable import OutriggerCore

@Suite("etcd discovery without sockets (SPEC §12)")
struct DiscoveryTests {
    static func kv(_ key: String, _ value: String) -> EtcdJSON.KeyValue {
        EtcdJSON.KeyValue(key: key, value: Array(value.utf8))
    }

    @Test func base64_roundTripsAndRejectsNonsense() {
        for text in ["", "f", "fo", "foo", "foob", "/outrigger/services/", "127.0.0.1:9001"] {
            #expect(Base64.decode(Base64.encode(text)) == Array(text.utf8))
        }
        #expect(Base64.encode("foo") == "Zm9v" && Base64.encode("fo") == "Zm8=")
        #expect(Base64.decode("Zm9v!") == nil && Base64.decode("Zm=9") == nil)
        #expect(EtcdClient.rangeEnd("/o/") == Base64.encode("/o0"))
    }

    // Recorded from etcd 3.4's gateway (scripts/discovery.sh drives the real thing).
    @Test func gatewayAnswers_areRead() throws {
        let range = try EtcdJSON.range(
            #"{"header":{"cluster_id":"3","member_id":"3","revision":"3","raft_term":"2"},"kvs":[{"key":"L28vd2ViL2NvbmZpZw==","create_revision":"3","mod_revision":"3","version":"1","value":"eyJyZXF1ZXN0X3RpbWVvdXQiOiIycyJ9"},{"key":"L28vd2ViL2VuZHBvaW50cy9h","create_revision":"2","mod_revision":"2","version":"1","value":"MTI3LjAuMC4xOjkwMDE="}],"count":"2"}"#
        )
        #expect(range.revision == 3)
        #expect(
            range.pairs == [
                Self.kv("/o/web/config", #"{"request_timeout":"2s"}"#), Self.kv("/o/web/endpoints/a", "127.0.0.1:9001"),
            ])
        #expect(
            try EtcdJSON.watch(
                #"{"result":{"header":{"cluster_id":"3","revision":"3","raft_term":"2"},"created":true}}"#)
                == .created(revision: 3))
        #expect(
            try EtcdJSON.watch(
                #"{"result":{"header":{"revision":"4"},"events":[{"type":"DELETE","kv":{"key":"L28vd2ViL2VuZHBvaW50cy9h","mod_revision":"4"}},{"kv":{"key":"L28veA==","value":"MQ=="}}]}}"#
            ) == .events(revision: 4, [.delete(key: "/o/web/endpoints/a"), .put(Self.kv("/o/x", "1"))]))
        #expect(
            try EtcdJSON.watch(#"{"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"5"}}"#)
                == .compacted(revision: 5))
        #expect(throws: EtcdJSON.Problem.self) {
            try EtcdJSON.range(#"{"error":"etcdserver: user name is empty","code":3}"#)
        }
        #expect(throws: EtcdJSON.Problem.self) { try EtcdJSON.watch("not json {") }
    }

    @Test func catalog_makesServices_reportsBadKeys_andKeepsServicesWithoutEndpoints() {
        var catalog = DiscoveryCatalog(prefix: "/o/")
        catalog.replaceAll(
            [
                Self.kv("/o/web/endpoints/b", "127.0.0.1:9002"), Self.kv("/o/web/endpoints/a", " 127.0.0.1:9001\n"),
                Self.kv("/o/web/config", #"{"max_concurrent_requests": 7}"#),
                Self.kv("/o/web/endpoints/bad", "not an endpoint"), Self.kv("/o/api/config", "{nope"),
                Self.kv("/o/Bad Name/endpoints/x", "127.0.0.1:1"), Self.kv("/o/stray", "x"),
                Self.kv("/o/file/endpoints/a", "127.0.0.1:9009"),
            ], revision: 9)
        var defaults = ServicePolicy()
        defaults.maxConcurrentRequests = 99
        let made = catalog.services(defaults: defaults, skip: ["file"])
        let web = made.services.first { $0.name == "web" }
        #expect(web?.endpoints.map(\.original) == ["127.0.0.1:9001", "127.0.0.1:9002"])  // by ID
        #expect(web?.policy.maxConcurrentRequests == 7)
        #expect(made.services.first { $0.name == "api" }?.policy.maxConcurrentRequests == 99)  // bad config skipped
        #expect(
            Set(made.problems.map(\.key)) == [
                "/o/web/endpoints/bad", "/o/api/config", "/o/Bad Name/endpoints/x", "/o/stray",
            ])
        #expect(made.conflicts == ["file"] && !made.services.contains { $0.name == "file" })
        // The last endpoint of a service goes: it stays known, with none (503 no_endpoints, not 404).
        catalog.apply(
            [.delete(key: "/o/web/endpoints/a"), .delete(key: "/o/web/endpoints/b"), .delete(key: "/o/web/config")],
            revision: 10)
        let after = catalog.services(defaults: defaults, skip: [])
        #expect(after.services.first { $0.name == "web" }?.endpoints.isEmpty == true)
        #expect(catalog.revision == 10)
    }

    @Test func theCache_roundTrips_andIsRefusedForAnotherPrefix() throws {
        var catalog = DiscoveryCatalog(prefix: "/o/")
        catalog.replaceAll(
            [Self.kv("/o/web/endpoints/a", "127.0.0.1:9001"), Self.kv("/o/gone/config", "{}")], revision: 42)
        catalog.apply([.delete(key: "/o/gone/config")], revision: 43)
        let text = DiscoveryCache.encode(catalog)
        guard case .success(let contents) = DiscoveryCache.decode(text, prefix: "/o/") else {
            Issue.record("the cache did not read back: \(text)")
            return
        }
        var restored = DiscoveryCatalog(prefix: "/o/")
        restored.restore(entries: contents.entries, known: contents.known, revision: contents.revision)
        #expect(restored == catalog)
        #expect(restored.known == ["web", "gone"])
        if case .success = DiscoveryCache.decode(text, prefix: "/other/") {
            Issue.record("another prefix's cache was used")
        }
        if case .success = DiscoveryCache.decode("{not json", prefix: "/o/") { Issue.record("a broken cache was used") }
    }

    @Test func theFileWins_whenMerging() throws {
        let file = LoadedConfig(
            config: OutriggerConfig(),
            registry: Registry(services: [
                ServiceConfig(
                    name: "orders", endpoints: [try Endpoint.parse("127.0.0.1:1").get()], policy: ServicePolicy())
            ]))
        var catalog = DiscoveryCatalog(prefix: "/o/")
        catalog.replaceAll(
            [Self.kv("/o/orders/endpoints/a", "127.0.0.1:2"), Self.kv("/o/users/endpoints/a", "127.0.0.1:3")],
            revision: 1)
        let merged = DaemonRuntime.merge(file, with: DaemonRuntime.discovered(from: catalog, file: file))
        #expect(merged.registry.order == ["orders", "users"])
        #expect(merged.registry.services["orders"]?.endpoints.map(\.original) == ["127.0.0.1:1"])
        #expect(merged.etcdServices == ["users"])
    }
}
