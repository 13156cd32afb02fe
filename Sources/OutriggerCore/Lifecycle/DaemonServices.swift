import Glibc
import Logging
import ServiceLifecycle
import UnixSignals

/// The proxy listeners: on graceful shutdown, `/ready` turns 503, the listeners close and connections drain.
struct ProxyListenerService: Service {
    let runtime: DaemonRuntime
    let notifier: SystemdNotifier
    let drainTimeoutMs: Int64
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        self.runtime.ready.store(false, ordering: .relaxed)
        self.notifier.notify("STOPPING=1")
        self.logger.info(
            "draining: no new connections, in-flight requests finish",
            metadata: [
                "drain_timeout_ms": "\(self.drainTimeoutMs)", "connections": "\(self.runtime.proxy.openConnections)",
            ])
        let cut = await self.runtime.proxy.shutdown(drainTimeoutMs: self.drainTimeoutMs)
        self.logger.info("drained", metadata: ["connections_cut": "\(cut)"])
    }
}

/// Reloads on SIGHUP and when the watched files are replaced, and reopens the access log on SIGUSR1 (SPEC §9),
/// until graceful shutdown.
struct ReloaderService: Service {
    let runtime: DaemonRuntime
    let notifier: SystemdNotifier

    func run() async throws {
        let runtime = self.runtime
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) { self.reload() }
            }
            if let accessLog = runtime.accessLog {
                // SIGUSR1 reopens the access log file, for logrotate.
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigusr1) {
                        accessLog.reopen()
                        runtime.logger.info("access log reopened")
                    }
                }
            }
            if let path = runtime.configPath {
                let watcher = ConfigWatcher(paths: {
                    let config = runtime.proxy.state().loaded.config
                    // A renamed certificate or key (cert-manager, certbot) reloads like a renamed config (SPEC §18).
                    let tlsFiles = config.tls.map { [$0.certFile, $0.keyFile] + ($0.clientCAFile.map { [$0] } ?? []) }
                    return [path, config.registryPath] + (tlsFiles ?? [])
                })
                group.addTask {
                    await watcher.run { changed in
                        runtime.logger.info("configuration file replaced, reloading", metadata: ["file": "\(changed)"])
                        self.reload()
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    private func reload() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let micros = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        self.notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(micros)")
        switch self.runtime.reload() {
        case .applied(let summary):
            self.notifier.notify("READY=1\nSTATUS=serving \(summary)")
        case .refused(let errors):
            self.notifier.notify("READY=1\nSTATUS=reload refused: \(errors.first ?? "")")
        }
    }
}

/// Follows etcd (SPEC §12) until graceful shutdown, which comes after the drain.
struct DiscoveryService: Service {
    let discovery: EtcdDiscovery
    let runtime: DaemonRuntime

    func run() async throws {
        let runtime = self.runtime
        self.discovery.start { catalog in runtime.applyDiscovery(catalog) }
        try? await gracefulShutdown()
        await self.discovery.shutdown()
    }
}

/// The admin API, closed last: it answers `/ready` with 503 while the proxy drains. The access log is flushed
/// after it, once nothing can write to it any more.
struct AdminService: Service {
    let admin: AdminServer
    let accessLog: AccessLog?

    func run() async throws {
        try? await gracefulShutdown()
        await self.admin.shutdown()
        self.accessLog?.shutdown()
    }
}
