import Logging
import NIOCore

@testable import OutriggerCore

/// A proxy plus its admin API, in-process on port 0, as the daemon wires them (without process signals).
struct AdminHarness: Sendable {
    let proxy: ProxyHarness
    let runtime: DaemonRuntime
    let admin: AdminServer
    let adminPort: Int

    static func start(
        services: [(String, [String])], token: String? = nil, configPath: String? = nil,
        configure: (inout OutriggerConfig, inout ServicePolicy) -> Void = { _, _ in }
    ) async throws -> AdminHarness {
        let proxy = try await ProxyHarness.start(services: services, configure: configure)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let runtime = DaemonRuntime(configPath: configPath, proxy: proxy.server, accessLog: nil, logger: logger)
        let admin = try await AdminServer.start(
            runtime: runtime, address: .inet(host: "127.0.0.1", port: 0), token: token)
        runtime.ready.store(true, ordering: .relaxed)
        return AdminHarness(proxy: proxy, runtime: runtime, admin: admin, adminPort: admin.port!)
    }

    /// One admin request on a fresh connection.
    func call(_ method: String, _ path: String, headers: String = "") async throws -> WireMessage {
        let client = try await RawClient.connect(port: self.adminPort)
        try await client.send("\(method) \(path) HTTP/1.1\r\nHost: admin\r\n\(headers)Content-Length: 0\r\n\r\n")
        let response = try await client.readResponse(head: method == "HEAD")
        await client.close()
        return response
    }

    func stop() async {
        await self.admin.shutdown()
        await self.proxy.stop()
    }
}
