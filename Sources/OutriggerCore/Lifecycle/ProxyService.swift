import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The proxy listener as a lifecycle `Service`: runs until a graceful shutdown (SIGTERM/SIGINT), then drains.
public struct ProxyService: Service {
    private let loaded: LoadedConfig
    private let logger: Logger
    private let onListening: @Sendable (ProxyServer) -> Void

    /// Creates the service; `onListening` runs once the listener is bound (tests learn the port from it).
    public init(
        loaded: LoadedConfig, logger: Logger, onListening: @escaping @Sendable (ProxyServer) -> Void = { _ in }
    ) {
        self.loaded = loaded
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let accessLog: AccessLog?
        switch self.loaded.config.accessLog {
        case .off: accessLog = nil
        case .stdout: accessLog = try AccessLog(destination: .stdout)
        case .file(let path): accessLog = try AccessLog(destination: .file(path))
        }
        let server = try await ProxyServer.start(
            state: ProxyState(loaded: self.loaded, logger: self.logger), logger: self.logger, accessLog: accessLog)
        self.logger.info(
            "outrigger listening",
            metadata: [
                "listen": "\(self.loaded.config.listen)", "port": "\(server.port.map(String.init) ?? "-")",
                "services": "\(self.loaded.registry.order.count)",
            ])
        self.onListening(server)
        await withTaskGroup(of: Void.self) { group in
            if let accessLog {
                // SIGUSR1 reopens the access log file, for logrotate.
                group.addTask {
                    for await _ in await UnixSignalsSequence(trapping: .sigusr1) {
                        accessLog.reopen()
                        self.logger.info("access log reopened")
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        self.logger.info("draining", metadata: ["drain_timeout_ms": "\(self.loaded.config.drainTimeoutMs)"])
        await server.shutdown(drainTimeoutMs: self.loaded.config.drainTimeoutMs)
        accessLog?.shutdown()
        self.logger.info("stopped")
    }
}
