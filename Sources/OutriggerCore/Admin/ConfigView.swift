/// `GET /config`: the effective configuration, defaults filled in, tokens redacted (SPEC §7).
struct ConfigView: Encodable {
    struct Policy: Encodable {
        var connectTimeout: String
        var requestTimeout: String
        var idleTimeout: String
        var maxConcurrentRequests: Int
        var balance: String
        var breaker: BreakerView.Config
        var retries: Retries
        var tls: TLS

        /// The `tls` block (SPEC §18).
        struct TLS: Encodable {
            var caFile: String?
            var certFile: String?
            var keyFile: String?
            var serverName: String?
            var insecureSkipVerify: Bool

            enum CodingKeys: String, CodingKey {
                case caFile = "ca_file"
                case certFile = "cert_file"
                case keyFile = "key_file"
                case serverName = "server_name"
                case insecureSkipVerify = "insecure_skip_verify"
            }
        }

        /// A `retry_on` item as in the file: a status is a number, a condition a string.
        struct Condition: Encodable {
            var condition: RetryPolicy.Condition

            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                if case .status(let status) = self.condition {
                    try container.encode(status)
                } else {
                    try container.encode(self.condition.description)
                }
            }
        }

        struct Retries: Encodable {
            var attempts: Int
            var perTryTimeout: String
            var retryOn: [Condition]
            var budgetPercent: Int

            enum CodingKeys: String, CodingKey {
                case attempts
                case perTryTimeout = "per_try_timeout"
                case retryOn = "retry_on"
                case budgetPercent = "budget_percent"
            }
        }

        enum CodingKeys: String, CodingKey {
            case balance, breaker, retries, tls
            case connectTimeout = "connect_timeout"
            case requestTimeout = "request_timeout"
            case idleTimeout = "idle_timeout"
            case maxConcurrentRequests = "max_concurrent_requests"
        }

        init(_ policy: ServicePolicy) {
            let d = ConfigDuration.format(milliseconds:)
            self.connectTimeout = d(policy.connectTimeoutMs)
            self.requestTimeout = d(policy.requestTimeoutMs)
            self.idleTimeout = d(policy.idleTimeoutMs)
            self.maxConcurrentRequests = policy.maxConcurrentRequests
            self.balance = policy.balance.rawValue
            let b = policy.breaker
            self.breaker = BreakerView.Config(
                consecutiveFailures: b.consecutiveFailures, failureRate: b.failureRate,
                minimumRequests: b.minimumRequests, window: d(b.windowMs), openFor: d(b.openForMs),
                halfOpenRequests: b.halfOpenRequests)
            self.retries = Retries(
                attempts: policy.retries.attempts, perTryTimeout: d(policy.retries.perTryTimeoutMs),
                retryOn: policy.retries.retryOn.map(Condition.init), budgetPercent: policy.retries.budgetPercent)
            self.tls = TLS(
                caFile: policy.tlsCAFile, certFile: policy.tlsCertFile, keyFile: policy.tlsKeyFile,
                serverName: policy.tlsServerName, insecureSkipVerify: !policy.tlsVerify)
        }
    }

    struct Service: Encodable {
        var endpoints: [String]
        var policy: Policy
    }

    struct Route: Encodable {
        var pathPrefix: String
        var host: String?
        var service: String
        var stripPrefix: Bool

        enum CodingKeys: String, CodingKey {
            case host, service
            case pathPrefix = "path_prefix"
            case stripPrefix = "strip_prefix"
        }
    }

    struct Admin: Encodable {
        var listen: String
        var token: String?
        var tokenSource: String?

        enum CodingKeys: String, CodingKey {
            case listen, token
            case tokenSource = "token_source"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(self.listen, forKey: .listen)
            try container.encode(self.token, forKey: .token)  // null when unset, never omitted
            try container.encodeIfPresent(self.tokenSource, forKey: .tokenSource)
        }
    }

    struct Limits: Encodable {
        var maxConnections: Int
        var maxRequestHeaderBytes: Int
        var maxRequestBodyBytes: Int64
        var headerReadTimeout: String
        var clientIdleTimeout: String

        enum CodingKeys: String, CodingKey {
            case maxConnections = "max_connections"
            case maxRequestHeaderBytes = "max_request_header_bytes"
            case maxRequestBodyBytes = "max_request_body_bytes"
            case headerReadTimeout = "header_read_timeout"
            case clientIdleTimeout = "client_idle_timeout"
        }
    }

    struct Tracing: Encodable {
        var formats: [String]
        var sampleRatio: Double

        enum CodingKeys: String, CodingKey {
            case formats
            case sampleRatio = "sample_ratio"
        }
    }

    /// `workers`: a number, or `auto` as in the file.
    enum Workers: Encodable {
        case auto
        case count(Int)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .auto: try container.encode("auto")
            case .count(let count): try container.encode(count)
            }
        }
    }

    /// The TLS listener, when configured (file paths only: nothing of the key is shown).
    struct InboundTLS: Encodable {
        var listen: String
        var certFile: String
        var keyFile: String
        var clientCAFile: String?
        var minVersion: String
        var alpn: [String]

        enum CodingKeys: String, CodingKey {
            case listen, alpn
            case certFile = "cert_file"
            case keyFile = "key_file"
            case clientCAFile = "client_ca_file"
            case minVersion = "min_version"
        }
    }

    var configFile: String?
    var listen: String
    var tls: InboundTLS?
    var admin: Admin
    var registry: String
    var workers: Workers
    var limits: Limits
    var drainTimeout: String
    var accessLog: String
    var tracing: Tracing
    var routes: [Route]
    var defaults: Policy
    var services: [String: Service]

    enum CodingKeys: String, CodingKey {
        case listen, tls, admin, registry, workers, limits, tracing, routes, defaults, services
        case configFile = "config_file"
        case drainTimeout = "drain_timeout"
        case accessLog = "access_log"
    }

    /// Numbers are JSON numbers, lists are lists and durations are written as in the files (SPEC §17); tokens
    /// are redacted, with where they came from.
    init(_ loaded: LoadedConfig) {
        let config = loaded.config
        let d = ConfigDuration.format(milliseconds:)
        self.configFile = config.path
        self.listen = config.listen.description
        self.tls = config.tls.map {
            InboundTLS(
                listen: $0.listen.description, certFile: $0.certFile, keyFile: $0.keyFile,
                clientCAFile: $0.clientCAFile,
                minVersion: $0.minVersion.rawValue, alpn: $0.alpn)
        }
        let source: String?
        switch config.admin.tokenSource {
        case .none: source = nil
        case .config: source = "admin.token"
        case .file(let path): source = "admin.token_file \(path)"
        case .environment: source = ConfigLoader.adminTokenVariable
        }
        self.admin = Admin(
            listen: config.admin.listen.description, token: config.admin.token.map { _ in "<redacted>" },
            tokenSource: source)
        self.registry = config.registryPath
        self.workers = config.workers.map(Workers.count) ?? .auto
        self.limits = Limits(
            maxConnections: config.limits.maxConnections,
            maxRequestHeaderBytes: config.limits.maxRequestHeaderBytes,
            maxRequestBodyBytes: config.limits.maxRequestBodyBytes,
            headerReadTimeout: d(config.limits.headerReadTimeoutMs),
            clientIdleTimeout: d(config.limits.clientIdleTimeoutMs))
        self.drainTimeout = d(config.drainTimeoutMs)
        switch config.accessLog {
        case .stdout: self.accessLog = "stdout"
        case .off: self.accessLog = "off"
        case .file(let path): self.accessLog = path
        }
        self.tracing = Tracing(
            formats: config.tracing.formats.map(\.rawValue), sampleRatio: config.tracing.sampleRatio)
        self.routes = config.routes.map {
            Route(pathPrefix: $0.pathPrefix, host: $0.host, service: $0.service, stripPrefix: $0.stripPrefix)
        }
        self.defaults = Policy(config.defaults)
        self.services = loaded.registry.services.mapValues {
            Service(endpoints: $0.endpoints.map(\.original), policy: Policy($0.policy))
        }
    }
}
