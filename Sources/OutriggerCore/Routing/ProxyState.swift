import Logging

/// Everything a request needs from the configuration, as one immutable snapshot.
///
/// A request reads the snapshot once when its head arrives and keeps it to the end, so a reload never changes a
/// request halfway (SPEC §9).
public final class ProxyState: Sendable {
    /// The configuration this snapshot was built from.
    public let loaded: LoadedConfig
    /// The router over this snapshot's services.
    public let router: Router
    /// Live services by name.
    public let services: [String: ServiceRuntime]
    /// Trace header handling of this configuration.
    public let tracing: TracePropagator

    /// Builds a snapshot; services that existed in `previous` keep their breaker, health and counters.
    public init(
        loaded: LoadedConfig, clock: any MillisecondClock = SystemMillisecondClock(),
        logger: Logger = Logger(label: "outrigger"), previous: ProxyState? = nil
    ) {
        self.loaded = loaded
        var services: [String: ServiceRuntime] = [:]
        for name in loaded.registry.order {
            if let config = loaded.registry.services[name] {
                services[name] = ServiceRuntime(
                    config: config, clock: clock, logger: logger, previous: previous?.services[name])
            }
        }
        self.services = services
        self.tracing = TracePropagator(
            formats: loaded.config.tracing.formats, sampleRatio: loaded.config.tracing.sampleRatio)
        self.router = Router(routes: loaded.config.routes, services: services)
    }
}
