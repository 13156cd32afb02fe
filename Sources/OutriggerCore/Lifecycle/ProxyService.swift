import Logging
import NIOCore
import ServiceLifecycle

/// The proxy listener as a lifecycle `Service`: runs until a graceful shutdown (SIGTERM/SIGINT), then drains.
public struct ProxyService: Service {
    private let loaded: LoadedConfig
    private let logger: Logger
    private let onListening: @Sendable (ProxyServer) -> Void

    /// Creates the service; `onListening` runs once the listener is bound (tests learn the port from it).
    public init(loaded: LoadedConfig, logger: Logger, onListening: @escaping @Sendable (ProxyServer) -> Void = { _ in })
    {
        self.loaded = loaded
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let server = try await ProxyServer.start(state: ProxyState(loaded: self.loaded), logger: self.logger)
        self.logger.info(
            "outrigger listening",
            metadata: [
                "listen":
                    "\(server.port.map { "\(self.loaded.config.listen) (port \($0))" } ?? "\(self.loaded.config.listen)")",
                "services": "\(self.loaded.registry.order.count)",
            ])
        self.onListening(server)
        try? await gracefulShutdown()
        self.logger.info("draining", metadata: ["drain_timeout_ms": "\(self.loaded.config.drainTimeoutMs)"])
        await server.shutdown(drainTimeoutMs: self.loaded.config.drainTimeoutMs)
        self.logger.info("stopped")
    }
}
