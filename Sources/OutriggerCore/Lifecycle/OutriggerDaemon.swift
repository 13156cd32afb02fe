import Logging
import NIOCore
import ServiceLifecycle

/// The daemon (SPEC §7, §9, §12): its parts are bound and ready here, then run as swift-service-lifecycle
/// services in one `ServiceGroup`.
///
/// Graceful shutdown (SIGTERM, SIGINT) stops them in the reverse of `services`' order, each after the one before
/// has finished:
/// 1. `ProxyListenerService`: `/ready` answers 503, the listeners stop accepting, connections drain (each closes
///    after its response in flight; `drain_timeout` cuts the rest);
/// 2. `ReloaderService`: no more reloads (SIGHUP, the file watcher) or log reopens (SIGUSR1);
/// 3. `DiscoveryService`: the etcd watch ends (after the drain, so requests in flight keep their endpoints);
/// 4. `AdminService`: the admin API closes (it answered `/ready` with 503 throughout the drain), then the access
///    log is flushed; the process exits.
public struct OutriggerDaemon: Sendable {
    public let runtime: DaemonRuntime
    public let admin: AdminServer
    /// The services, in start order.
    public let services: [any Service]

    /// Binds the proxy and admin listeners and loads the discovery cache; throws when a listener cannot be bound.
    public static func start(
        loaded: LoadedConfig, configPath: String?, logger: Logger, notifier: SystemdNotifier = SystemdNotifier()
    ) async throws -> OutriggerDaemon {
        let config = loaded.config
        let accessLog: AccessLog?
        switch config.accessLog {
        case .off: accessLog = nil
        case .stdout: accessLog = try AccessLog(destination: .stdout)
        case .file(let path): accessLog = try AccessLog(destination: .file(path))
        }
        // Services from etcd (SPEC §12): the cached catalog, if any, is served until etcd answers.
        let discovery = config.etcd.map { EtcdDiscovery(settings: $0, logger: logger) }
        discovery?.loadCache()
        let initial = DaemonRuntime.merge(
            loaded, with: DaemonRuntime.discovered(from: discovery?.current, file: loaded))
        let proxy: ProxyServer
        do {
            proxy = try await ProxyServer.start(
                state: ProxyState(loaded: initial, logger: logger), logger: logger, accessLog: accessLog)
        } catch {
            accessLog?.shutdown()
            throw error
        }
        let runtime = DaemonRuntime(
            configPath: configPath, proxy: proxy, accessLog: accessLog, logger: logger, fileLoaded: loaded,
            discovery: discovery)
        let admin: AdminServer
        do {
            admin = try await AdminServer.start(
                runtime: runtime, address: config.admin.listen, token: config.admin.token)
        } catch {
            await proxy.shutdown(drainTimeoutMs: 0)
            accessLog?.shutdown()
            throw error
        }
        runtime.ready.store(true, ordering: .relaxed)
        logger.info(
            "outrigger ready",
            metadata: [
                "listen": "\(config.listen)", "port": "\(proxy.port.map(String.init) ?? "-")",
                "admin": "\(config.admin.listen)", "services": "\(initial.registry.order.count)",
            ])
        notifier.notify("READY=1\nSTATUS=serving \(loaded.summary)")
        var services: [any Service] = [AdminService(admin: admin, accessLog: accessLog)]
        if let discovery { services.append(DiscoveryService(discovery: discovery, runtime: runtime)) }
        services.append(ReloaderService(runtime: runtime, notifier: notifier))
        services.append(
            ProxyListenerService(
                runtime: runtime, notifier: notifier, drainTimeoutMs: config.drainTimeoutMs, logger: logger))
        return OutriggerDaemon(runtime: runtime, admin: admin, services: services)
    }
}
