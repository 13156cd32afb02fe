import Glibc
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The whole daemon as one lifecycle `Service` (SPEC §7, §9): proxy and admin listeners, readiness, reload on
/// SIGHUP, access log reopen on SIGUSR1, and a graceful drain on SIGTERM/SIGINT.
public struct OutriggerDaemon: Service {
    private let loaded: LoadedConfig
    private let configPath: String?
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let onReady: @Sendable (DaemonRuntime, AdminServer) -> Void

    /// Creates the daemon; `onReady` runs once both listeners are up (tests learn the ports from it).
    public init(
        loaded: LoadedConfig, configPath: String?, logger: Logger, notifier: SystemdNotifier = SystemdNotifier(),
        onReady: @escaping @Sendable (DaemonRuntime, AdminServer) -> Void = { _, _ in }
    ) {
        self.loaded = loaded
        self.configPath = configPath
        self.logger = logger
        self.notifier = notifier
        self.onReady = onReady
    }

    public func run() async throws {
        let config = self.loaded.config
        let accessLog: AccessLog?
        switch config.accessLog {
        case .off: accessLog = nil
        case .stdout: accessLog = try AccessLog(destination: .stdout)
        case .file(let path): accessLog = try AccessLog(destination: .file(path))
        }
        // Services from etcd (SPEC §12): the cached catalog, if any, is served until etcd answers.
        let discovery = config.etcd.map { EtcdDiscovery(settings: $0, logger: self.logger) }
        discovery?.loadCache()
        let initial = DaemonRuntime.merge(
            self.loaded, with: DaemonRuntime.discovered(from: discovery?.current, file: self.loaded))
        let proxy = try await ProxyServer.start(
            state: ProxyState(loaded: initial, logger: self.logger), logger: self.logger, accessLog: accessLog)
        let runtime = DaemonRuntime(
            configPath: self.configPath, proxy: proxy, accessLog: accessLog, logger: self.logger,
            fileLoaded: self.loaded, discovery: discovery)
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
        self.logger.info(
            "outrigger ready",
            metadata: [
                "listen": "\(config.listen)", "port": "\(proxy.port.map(String.init) ?? "-")",
                "admin": "\(config.admin.listen)", "services": "\(self.loaded.registry.order.count)",
            ])
        self.notifier.notify("READY=1\nSTATUS=serving \(self.loaded.summary)")
        discovery?.start { catalog in runtime.applyDiscovery(catalog) }
        self.onReady(runtime, admin)

        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    self.reload(runtime)
                }
            }
            if let accessLog {
                // SIGUSR1 reopens the access log file, for logrotate.
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigusr1) {
                        accessLog.reopen()
                        self.logger.info("access log reopened")
                    }
                }
            }
            if let path = self.configPath {
                let watcher = ConfigWatcher(paths: {
                    let config = runtime.proxy.state().loaded.config
                    // A renamed certificate or key (cert-manager, certbot) reloads like a renamed config (SPEC §18).
                    let tlsFiles = config.tls.map { [$0.certFile, $0.keyFile] + ($0.clientCAFile.map { [$0] } ?? []) }
                    return [path, config.registryPath] + (tlsFiles ?? [])
                })
                group.addTask {
                    await watcher.run { changed in
                        self.logger.info("configuration file replaced, reloading", metadata: ["file": "\(changed)"])
                        self.reload(runtime)
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }

        runtime.ready.store(false, ordering: .relaxed)
        self.notifier.notify("STOPPING=1")
        self.logger.info(
            "draining: no new connections, in-flight requests finish",
            metadata: ["drain_timeout_ms": "\(config.drainTimeoutMs)", "connections": "\(proxy.openConnections)"])
        let cut = await proxy.shutdown(drainTimeoutMs: config.drainTimeoutMs)
        // After the drain, so requests in flight keep the endpoints they were routed with.
        await discovery?.shutdown()
        await admin.shutdown()
        accessLog?.shutdown()
        self.logger.info("stopped", metadata: ["connections_cut": "\(cut)"])
    }

    private func reload(_ runtime: DaemonRuntime) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let micros = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        self.notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(micros)")
        switch runtime.reload() {
        case .applied(let summary):
            self.notifier.notify("READY=1\nSTATUS=serving \(summary)")
        case .refused(let errors):
            self.notifier.notify("READY=1\nSTATUS=reload refused: \(errors.first ?? "")")
        }
    }
}
