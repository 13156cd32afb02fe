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
        var tlsVerify: Bool
        var tlsCAFile: String?

        struct Retries: Encodable {
            var attempts: Int
            var perTryTimeout: String
            var retryOn: [String]
            var budgetPercent: Int

            enum CodingKeys: String, CodingKey {
                case attempts
                case perTryTimeout = "per_try_timeout"
                case retryOn = "retry_on"
                case budgetPercent = "budget_percent"
            }
        }

        enum CodingKeys: String, CodingKey {
            case balance, breaker, retries
            case connectTimeout = "connect_timeout"
            case requestTimeout = "request_timeout"
            case idleTimeout = "idle_timeout"
            case maxConcurrentRequests = "max_concurrent_requests"
            case tlsVerify = "tls_verify"
            case tlsCAFile = "tls_ca_file"
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
                retryOn: policy.retries.retryOn.map(\.description), budgetPercent: policy.retries.budgetPercent)
            self.tlsVerify = policy.tlsVerify
            self.tlsCAFile = policy.tlsCAFile
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

    var configFile: String?
    var listen: String
    var admin: [String: String?]
    var registry: String
    var workers: String
    var limits: [String: String]
    var drainTimeout: String
    var accessLog: String
    var tracing: [String: String]
    var routes: [Route]
    var defaults: Policy
    var services: [String: Service]

    enum CodingKeys: String, CodingKey {
        case listen, admin, registry, workers, limits, tracing, routes, defaults, services
        case configFile = "config_file"
        case drainTimeout = "drain_timeout"
        case accessLog = "access_log"
    }

    init(_ loaded: LoadedConfig) {
        let config = loaded.config
        let d = ConfigDuration.format(milliseconds:)
        self.configFile = config.path
        self.listen = config.listen.description
        self.admin = ["listen": config.admin.listen.description, "token": config.admin.token.map { _ in "<redacted>" }]
        self.registry = config.registryPath
        self.workers = config.workers.map(String.init) ?? "auto"
        self.limits = [
            "max_connections": String(config.limits.maxConnections),
            "max_request_header_bytes": String(config.limits.maxRequestHeaderBytes),
            "max_request_body_bytes": String(config.limits.maxRequestBodyBytes),
            "header_read_timeout": d(config.limits.headerReadTimeoutMs),
            "client_idle_timeout": d(config.limits.clientIdleTimeoutMs),
        ]
        self.drainTimeout = d(config.drainTimeoutMs)
        switch config.accessLog {
        case .stdout: self.accessLog = "stdout"
        case .off: self.accessLog = "off"
        case .file(let path): self.accessLog = path
        }
        self.tracing = [
            "formats": config.tracing.formats.map(\.rawValue).joined(separator: ","),
            "sample_ratio": String(config.tracing.sampleRatio),
        ]
        self.routes = config.routes.map {
            Route(pathPrefix: $0.pathPrefix, host: $0.host, service: $0.service, stripPrefix: $0.stripPrefix)
        }
        self.defaults = Policy(config.defaults)
        self.services = loaded.registry.services.mapValues {
            Service(endpoints: $0.endpoints.map(\.original), policy: Policy($0.policy))
        }
    }
}
