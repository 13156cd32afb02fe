import Atomics

/// A service as the proxy runs it: its config plus the live counters that endpoint selection needs.
public final class ServiceRuntime: Sendable {
    /// The service's configuration, merged with `defaults`.
    public let config: ServiceConfig
    private let nextIndex = ManagedAtomic<Int>(0)

    /// Wraps a service's config.
    public init(config: ServiceConfig) {
        self.config = config
    }

    /// The service name.
    public var name: String { self.config.name }

    /// Picks the next endpoint in round-robin order.
    public func nextEndpoint() -> Endpoint? {
        let endpoints = self.config.endpoints
        guard !endpoints.isEmpty else { return nil }
        if endpoints.count == 1 { return endpoints[0] }
        let index = self.nextIndex.loadThenWrappingIncrement(ordering: .relaxed)
        return endpoints[(index & Int.max) % endpoints.count]
    }
}
