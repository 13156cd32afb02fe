import Atomics
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// Everything the admin API and the signal handlers act on: the running proxy, its config file, readiness and
/// reload (SPEC §7, §9).
public final class DaemonRuntime: Sendable {
    /// The outcome of a reload.
    public enum ReloadResult: Sendable {
        /// Applied; the one-line summary of the new configuration.
        case applied(String)
        /// Refused; every problem, the running configuration kept.
        case refused([String])
    }

    /// Where the configuration was read from (nil when built in-process, as in tests).
    public let configPath: String?
    /// The proxy listener.
    public let proxy: ProxyServer
    /// The access log, when on.
    public let accessLog: AccessLog?
    /// True while serving: false before the listener is up and while draining (`/ready`).
    public let ready = ManagedAtomic<Bool>(false)
    /// Successful and refused reloads.
    public let reloads = ManagedAtomic<Int>(0)
    public let failedReloads = ManagedAtomic<Int>(0)
    /// The last minutes of each service's traffic (SPEC §14), ticked by the admin server.
    public let history = HistoryRecorder()
    let logger: Logger
    private let startedAt = NIODeadline.now()
    private let reloadLock = NIOLock()

    /// Services from etcd (SPEC §12), when `discovery.etcd` is configured.
    public let discovery: EtcdDiscovery?
    /// The configuration as the files say it, before etcd's services are added: what a catalog change merges into.
    private let fileLoaded: NIOLockedValueBox<LoadedConfig?>
    /// Discovery problems and conflicts already logged, so each is logged once.
    private let loggedDiscoveryNotes = NIOLockedValueBox<Set<String>>([])

    /// Wraps a started proxy.
    public init(
        configPath: String?, proxy: ProxyServer, accessLog: AccessLog?, logger: Logger, fileLoaded: LoadedConfig? = nil,
        discovery: EtcdDiscovery? = nil
    ) {
        self.configPath = configPath
        self.proxy = proxy
        self.accessLog = accessLog
        self.logger = logger
        self.fileLoaded = NIOLockedValueBox(fileLoaded)
        self.discovery = discovery
    }

    /// The files' configuration with etcd's services added: a service in both is the file's (SPEC §12).
    static func merge(_ file: LoadedConfig, with discovered: DiscoveredServices?) -> LoadedConfig {
        guard let discovered else { return file }
        var merged = file
        let fileServices = file.registry.order.compactMap { file.registry.services[$0] }
        merged.registry = Registry(services: fileServices + discovered.services)
        merged.etcdServices = Set(discovered.services.map(\.name))
        return merged
    }

    /// What the catalog makes, given the files' services and defaults.
    static func discovered(from catalog: DiscoveryCatalog?, file: LoadedConfig) -> DiscoveredServices? {
        catalog?.services(defaults: file.config.defaults, skip: Set(file.registry.order))
    }

    /// A new catalog from etcd: the running services become the files' plus etcd's. Services that stay keep their
    /// breaker, health and counters; connections are not touched.
    func applyDiscovery(_ catalog: DiscoveryCatalog) {
        self.reloadLock.withLock {
            guard let file = self.fileLoaded.withLockedValue({ $0 }) else { return }
            let discovered = Self.discovered(from: catalog, file: file)
            let merged = Self.merge(file, with: discovered)
            self.proxy.replace(state: ProxyState(loaded: merged, logger: self.logger, previous: self.proxy.state()))
            if let discovered { self.noteDiscovery(discovered) }
        }
    }

    /// Logs each bad key and each file-wins conflict once, and shows them in the status.
    private func noteDiscovery(_ discovered: DiscoveredServices) {
        self.discovery?.report(problems: discovered.problems, conflicts: discovered.conflicts)
        for problem in discovered.problems {
            let note = "problem \(problem.key) \(problem.message)"
            if self.loggedDiscoveryNotes.withLockedValue({ $0.insert(note).inserted }) {
                self.logger.warning(
                    "discovery: a key etcd holds is skipped",
                    metadata: ["key": "\(problem.key)", "error": "\(problem.message)"])
            }
        }
        for service in discovered.conflicts {
            if self.loggedDiscoveryNotes.withLockedValue({ $0.insert("conflict \(service)").inserted }) {
                self.logger.warning(
                    "discovery: the service is in the registry file and in etcd; the file's is used",
                    metadata: ["service": "\(service)"])
            }
        }
    }

    /// Seconds since start.
    public var uptimeSeconds: Double { Double((NIODeadline.now() - self.startedAt).nanoseconds) / 1e9 }

    /// The wall-clock time of a point on the services' monotonic millisecond clock.
    public func wallTime(monotonicMs: Int64, clock: any MillisecondClock) -> timespec {
        let now = Posix.wallClock()
        let ns = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec) + (monotonicMs - clock.nowMs()) * 1_000_000
        return timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }

    /// Re-reads both files; applies them if valid, else keeps the running config and reports why (SPEC §9).
    ///
    /// The files are read and parsed outside any lock (call it off an event loop: it does file I/O); only the
    /// comparison with the running configuration and the swap are serialised.
    public func reload() -> ReloadResult {
        guard let path = self.configPath else {
            return .refused(["this instance was not started from a config file"])
        }
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(configPath: path)
        } catch {
            self.failedReloads.wrappingIncrement(ordering: .relaxed)
            let lines = error.errors.map(\.description)
            self.logger.error(
                "reload refused: invalid configuration, running configuration kept",
                metadata: ["errors": "\(lines.joined(separator: "; "))"])
            return .refused(lines)
        }
        return self.reloadLock.withLock {
            let current = self.proxy.state().loaded.config
            var problems: [String] = []
            if loaded.config.listen != current.listen {
                problems.append(
                    "listen changed from \(current.listen) to \(loaded.config.listen): restart Outrigger to apply it")
            }
            if loaded.config.admin.listen != current.admin.listen {
                problems.append(
                    "admin.listen changed from \(current.admin.listen) to \(loaded.config.admin.listen): "
                        + "restart Outrigger to apply it")
            }
            if loaded.config.workers != current.workers {
                problems.append("workers changed: restart Outrigger to apply it")
            }
            if loaded.config.tls?.listen != current.tls?.listen {
                problems.append(
                    "tls.listen changed from \(current.tls.map { "\($0.listen)" } ?? "none") to "
                        + "\(loaded.config.tls.map { "\($0.listen)" } ?? "none"): restart Outrigger to apply it")
            }
            // SPEC §18: the pair is read again on every reload; a bad one refuses the reload and the old one stays.
            var tlsContext: NIOSSLContext?
            if problems.isEmpty, let tls = loaded.config.tls {
                do {
                    tlsContext = try self.proxy.makeTLSContext(tls)
                } catch {
                    problems.append(
                        "tls: cannot use cert_file '\(tls.certFile)' with key_file '\(tls.keyFile)': \(error); "
                            + "the running certificate stays in use")
                }
            }
            guard problems.isEmpty else {
                self.failedReloads.wrappingIncrement(ordering: .relaxed)
                self.logger.error("reload refused", metadata: ["errors": "\(problems.joined(separator: "; "))"])
                return .refused(problems)
            }
            if loaded.config.accessLog != current.accessLog {
                self.logger.warning("access_log changes take effect on restart; the current destination is kept")
            }
            let previous = self.proxy.state()
            if loaded.config.tracing.otlp != current.tracing.otlp {
                self.logger.warning("tracing.otlp changes take effect on restart; span export keeps its settings")
            }
            if self.discovery != nil && loaded.config.etcd != current.etcd {
                self.logger.warning("discovery changes take effect on restart; the running etcd settings are kept")
            }
            self.fileLoaded.withLockedValue { $0 = loaded }
            let discovered = Self.discovered(from: self.discovery?.current, file: loaded)
            let state = ProxyState(
                loaded: Self.merge(loaded, with: discovered), logger: self.logger, previous: previous)
            self.proxy.replace(state: state)
            if let discovered { self.noteDiscovery(discovered) }
            self.logFaultChanges(from: previous, to: state)
            if let tlsContext { self.proxy.replaceTLS(context: tlsContext) }
            self.reloads.wrappingIncrement(ordering: .relaxed)
            self.logger.info("configuration reloaded", metadata: ["summary": "\(loaded.summary)"])
            for warning in loaded.warnings {
                self.logger.warning("configuration", metadata: ["warning": "\(warning)"])
            }
            return .applied(loaded.summary)
        }
    }

    /// Registry faults a reload changed (SPEC §11): every change to what is injected is logged, wherever it came
    /// from.
    private func logFaultChanges(from previous: ProxyState, to next: ProxyState) {
        for name in next.loaded.registry.order {
            let before = previous.services[name]?.config.policy.faults ?? .none
            let after = next.services[name]?.config.policy.faults ?? .none
            guard before != after else { continue }
            self.logger.info(
                "faults set",
                metadata: [
                    "source": "registry", "service": "\(name)", "fault": "\(AdminRouter.describe(after))",
                    "ttl": "none",
                ])
        }
    }
}
