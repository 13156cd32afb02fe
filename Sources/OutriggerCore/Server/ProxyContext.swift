import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// What every connection of the proxy listener shares: the current config snapshot, the curl workers and counters.
final class ProxyContext: Sendable {
    let logger: Logger
    private let current: NIOLockedValueBox<ProxyState>
    private let workers: [ObjectIdentifier: CurlWorker]
    private let fallbackWorker: CurlWorker
    let openConnections = ManagedAtomic<Int>(0)
    let totalConnections = ManagedAtomic<Int>(0)
    let refusedConnections = ManagedAtomic<Int>(0)
    /// Requests answered, all services and local errors included.
    let requests = ManagedAtomic<Int>(0)
    let accessLog: AccessLog?
    /// Set when a graceful shutdown starts: connections close after their current response.
    let draining = ManagedAtomic<Bool>(false)
    /// Open client channels, so a drain can reach idle keep-alive connections.
    let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
    /// The TLS listener's current context (nil without one); replaced by reloads.
    let tlsContext = NIOLockedValueBox<NIOSSLContext?>(nil)
    let tlsStats = TLSStats()
    /// Upgraded connections (SPEC §10) open now, and since start.
    let upgradedOpen = ManagedAtomic<Int>(0)
    let upgradedTotal = ManagedAtomic<Int>(0)
    /// Client TLS contexts for upgrades to `https://` endpoints, by the settings that made them.
    let upstreamTLSContexts = NIOLockedValueBox<[String: NIOSSLContext]>([:])

    /// The client TLS context for `policy`'s `tls` block (made once per distinct block).
    func upstreamTLSContext(for policy: ServicePolicy, alpn: [String] = ["http/1.1"]) throws -> NIOSSLContext {
        let key = [
            policy.tlsCAFile ?? "", policy.tlsCertFile ?? "", policy.tlsKeyFile ?? "", "\(policy.tlsVerify)",
            alpn.joined(separator: ","),
        ]
        .joined(separator: "\u{0}")
        if let known = self.upstreamTLSContexts.withLockedValue({ $0[key] }) { return known }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let ca = policy.tlsCAFile { configuration.trustRoots = .file(ca) }
        if let cert = policy.tlsCertFile, let keyFile = policy.tlsKeyFile {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
        }
        if !policy.tlsVerify { configuration.certificateVerification = .none }
        configuration.applicationProtocols = alpn
        let made = try NIOSSLContext(configuration: configuration)
        self.upstreamTLSContexts.withLockedValue { $0[key] = made }
        return made
    }
    /// Each event loop's h2c connections (`protocol: h2c`), made on the loop's first h2c call.
    private let h2cPools = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<H2CConnectionPool>]>([:])

    /// The h2c connection pool of `loop`; call on `loop`.
    func h2cPool(for loop: any EventLoop) -> H2CConnectionPool {
        let key = ObjectIdentifier(loop)
        if let known = self.h2cPools.withLockedValue({ $0[key] }) { return known.value }
        let pool = H2CConnectionPool(eventLoop: loop)
        self.h2cPools.withLockedValue { $0[key] = NIOLoopBound(pool, eventLoop: loop) }
        return pool
    }

    /// Span export (SPEC §13), when `tracing.otlp` (or the OTLP variables) configure it.
    let spanExporter: SpanExporter?

    /// Faults set at run time through the admin API (SPEC §11); they outlive reloads.
    let faults = FaultOverrides()

    /// Per-request upstream failures, aggregated before they reach the log.
    let failureLog: FailureLog

    init(
        state: ProxyState, workers: [ObjectIdentifier: CurlWorker], fallback: CurlWorker, logger: Logger,
        accessLog: AccessLog?, spanExporter: SpanExporter? = nil
    ) {
        self.accessLog = accessLog
        self.spanExporter = spanExporter
        self.current = NIOLockedValueBox(state)
        self.workers = workers
        self.fallbackWorker = fallback
        self.logger = logger
        self.failureLog = FailureLog(logger: logger)
    }

    /// The inbound limits of the current configuration (a reload applies them to new connections and requests).
    var limits: OutriggerConfig.Limits { self.state().loaded.config.limits }

    /// The snapshot a new request runs on.
    func state() -> ProxyState { self.current.withLockedValue { $0 } }

    /// Swaps in a new snapshot; requests already started keep theirs.
    func replace(_ state: ProxyState) { self.current.withLockedValue { $0 = state } }

    /// The curl worker paired with an event loop, so a connection's transfers share one thread and one pool.
    func worker(for loop: any EventLoop) -> CurlWorker {
        self.workers[ObjectIdentifier(loop)] ?? self.fallbackWorker
    }
}
