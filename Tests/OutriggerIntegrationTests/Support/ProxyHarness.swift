import Logging
import NIOCore

@testable import OutriggerCore

/// Runs a real proxy listener in-process on 127.0.0.1 port 0, over a registry built by the test.
struct ProxyHarness: Sendable {
    let server: ProxyServer
    let port: Int

    /// Starts a proxy whose registry maps each service name to endpoints.
    static func start(
        services: [(String, [String])],
        routes: [OutriggerConfig.Route] = [],
        accessLog: AccessLog? = nil,
        logger given: Logger? = nil,
        configure: (inout OutriggerConfig, inout ServicePolicy) -> Void = { _, _ in }
    ) async throws -> ProxyHarness {
        var config = OutriggerConfig()
        config.listen = .inet(host: "127.0.0.1", port: 0)
        config.workers = 1
        config.routes = routes
        var policy = ServicePolicy()
        configure(&config, &policy)
        let registry = Registry(
            services: services.map { name, endpoints in
                ServiceConfig(
                    name: name, endpoints: endpoints.map { try! Endpoint.parse($0).get() }, policy: policy)
            })
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        if let given { logger = given }
        let server = try await ProxyServer.start(
            state: ProxyState(loaded: LoadedConfig(config: config, registry: registry), logger: logger), logger: logger,
            accessLog: accessLog)
        return ProxyHarness(server: server, port: server.port!)
    }

    func stop() async {
        await self.server.shutdown(drainTimeoutMs: 0)
    }

    func client() async throws -> RawClient {
        try await RawClient.connect(port: self.port)
    }
}

/// Starts an upstream and a proxy with one service `svc` on it, runs the body, and stops both.
func withProxy(
    behaviour: @escaping @Sendable (WireMessage) -> UpstreamAction = { _ in .text(body: "ok") },
    configure: (inout OutriggerConfig, inout ServicePolicy) -> Void = { _, _ in },
    _ body: (TestUpstream, ProxyHarness) async throws -> Void
) async throws {
    let upstream = try await TestUpstream(behaviour: behaviour)
    let proxy = try await ProxyHarness.start(
        services: [("svc", ["127.0.0.1:\(upstream.port)"])], configure: configure)
    do {
        try await body(upstream, proxy)
    } catch {
        await proxy.stop()
        await upstream.stop()
        throw error
    }
    await proxy.stop()
    await upstream.stop()
}
