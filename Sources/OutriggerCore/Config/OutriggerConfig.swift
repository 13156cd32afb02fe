/// The daemon's own settings, from `outrigger.yaml` (SPEC §2).
public struct OutriggerConfig: Sendable {
    /// Inbound connection and request limits.
    public struct Limits: Sendable, Equatable {
        /// Inbound connections beyond this are refused.
        public var maxConnections = 10_000
        /// Total header bytes of a request before `431`.
        public var maxRequestHeaderBytes = 65_536
        /// Request body bytes before `413`; 0 = unlimited (streamed).
        public var maxRequestBodyBytes: Int64 = 0
        /// Milliseconds to receive a whole request head (slowloris guard).
        public var headerReadTimeoutMs: Int64 = 10_000
        /// Milliseconds an idle keep-alive connection is kept.
        public var clientIdleTimeoutMs: Int64 = 60_000
        /// HTTP/2 streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).
        public var maxConcurrentStreams = 100

        /// The defaults of SPEC §2.
        public init() {}
    }

    /// The admin listener.
    public struct Admin: Sendable, Equatable {
        /// Where the admin API binds.
        public var listen: ListenAddress = .inet(host: "127.0.0.1", port: 9901)
        /// Where the token came from (SPEC §16).
        public enum TokenSource: Sendable, Equatable {
            /// `admin.token` in the config file.
            case config
            /// `admin.token_file`: this file's contents, trimmed.
            case file(String)
            /// The `OUTRIGGER_ADMIN_TOKEN` environment variable.
            case environment
        }

        /// Bearer token required on every admin request but `/healthz` and `/ready` when set (SPEC §16).
        public var token: String?
        /// Where `token` came from, when set.
        public var tokenSource: TokenSource?

        /// The defaults of SPEC §2.
        public init() {}
    }

    /// Trace header formats.
    public enum TraceFormat: String, Sendable, Equatable { case w3c, b3 }

    /// Trace propagation.
    public struct Tracing: Sendable, Equatable {
        /// Which trace headers are read and written.
        public var formats: [TraceFormat] = [.w3c, .b3]
        /// Sampling ratio for traces Outrigger starts itself.
        public var sampleRatio = 1.0
        /// Span export (SPEC §13); nil when off.
        public var otlp: OTLPSettings?
        /// The `otlp` keys the file set (the environment fills the others).
        var otlpFileKeys = OTLPSettings.FileKeys()

        /// The defaults of SPEC §2.
        public init() {}
    }

    /// Where access log lines go.
    public enum AccessLog: Sendable, Equatable {
        case stdout
        case off
        case file(String)
    }

    /// One entry of `routes`.
    public struct Route: Sendable, Equatable {
        /// The path prefix that selects the route.
        public var pathPrefix: String
        /// Optional lower-cased host (without port) the request must also have.
        public var host: String?
        /// The registry service the route sends to.
        public var service: String
        /// Whether the prefix is removed from the path sent upstream.
        public var stripPrefix: Bool

        /// Creates a route.
        public init(pathPrefix: String, host: String? = nil, service: String, stripPrefix: Bool = false) {
            self.pathPrefix = pathPrefix
            self.host = host
            self.service = service
            self.stripPrefix = stripPrefix
        }
    }

    /// The TLS listener of SPEC §18, beside the plain one.
    public struct InboundTLS: Sendable, Equatable {
        /// The lowest protocol version accepted.
        public enum MinimumVersion: String, Sendable, Equatable {
            case tls12 = "1.2"
            case tls13 = "1.3"
        }

        public var listen: ListenAddress = .inet(host: "127.0.0.1", port: 15443)
        /// The certificate chain, PEM (resolved path).
        public var certFile = ""
        /// Its private key, PEM (resolved path).
        public var keyFile = ""
        /// When set, clients must present a certificate signed by this CA (mTLS).
        public var clientCAFile: String?
        public var minVersion = MinimumVersion.tls12
        /// ALPN protocols as configured, in order of preference.
        public var alpn = ["http/1.1"]

        /// What the handshake offers: the configured protocols, in order (both are served).
        public var offeredALPN: [String] { self.alpn.isEmpty ? ["http/1.1"] : self.alpn }

        public init() {}
    }

    /// The file this configuration was read from (absolute), if any.
    public var path: String?
    /// The inbound proxy listener.
    public var listen: ListenAddress = .inet(host: "127.0.0.1", port: 15001)
    /// The admin listener.
    public var admin = Admin()
    /// The TLS listener, when configured.
    public var tls: InboundTLS?
    /// Path of the registry file, resolved against the config file's folder.
    public var registryPath = "registry.yaml"
    /// Event-loop threads; nil means one per CPU core.
    public var workers: Int?
    /// Inbound limits.
    public var limits = Limits()
    /// Graceful shutdown budget, in milliseconds.
    public var drainTimeoutMs: Int64 = 15_000
    /// Access log destination.
    public var accessLog: AccessLog = .stdout
    /// Trace propagation.
    public var tracing = Tracing()
    /// Services read from etcd beside the registry file (SPEC §12); nil without a `discovery` block.
    public var etcd: EtcdSettings?
    /// Path-prefix routes, first match wins.
    public var routes: [Route] = []
    /// Policy for every service, overridable per service.
    public var defaults = ServicePolicy()

    /// The defaults of SPEC §2.
    public init() {}
}

/// A service of the registry with its policy already merged over the config's `defaults`.
public struct ServiceConfig: Sendable, Equatable {
    /// The registry name; requests whose Host equals it are sent here.
    public var name: String
    /// Upstream addresses, in registry order.
    public var endpoints: [Endpoint]
    /// Timeouts, limits, breaker and retries.
    public var policy: ServicePolicy

    /// Creates a service.
    public init(name: String, endpoints: [Endpoint], policy: ServicePolicy = ServicePolicy()) {
        self.name = name
        self.endpoints = endpoints
        self.policy = policy
    }
}

/// The static service registry, from `registry.yaml`.
public struct Registry: Sendable {
    /// Services by name.
    public var services: [String: ServiceConfig]
    /// Service names in file order, for stable listings.
    public var order: [String]

    /// Creates a registry from services in order.
    public init(services: [ServiceConfig]) {
        self.order = services.map(\.name)
        self.services = Dictionary(services.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// A validated pair of files: what the daemon runs on.
public struct LoadedConfig: Sendable {
    /// The daemon's settings.
    public var config: OutriggerConfig
    /// The services.
    public var registry: Registry
    /// What is accepted but worth a look (an old key spelling, verification turned off), each at its position:
    /// `check` prints them, `run` and reloads log them.
    public var warnings: [ConfigError] = []
    /// The services that came from etcd rather than the registry file (SPEC §12).
    public var etcdServices: Set<String> = []

    /// Pairs a config with its registry.
    public init(config: OutriggerConfig, registry: Registry) {
        self.config = config
        self.registry = registry
    }

    /// One line for `outrigger check` and reload logs.
    public var summary: String {
        let endpoints = self.registry.services.values.reduce(0) { $0 + $1.endpoints.count }
        return "listen \(self.config.listen), admin \(self.config.admin.listen), "
            + "\(self.registry.order.count) services, \(endpoints) endpoints, \(self.config.routes.count) routes"
    }
}
