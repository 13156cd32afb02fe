/// Circuit breaker settings of SPEC §2; defaults follow the SPEC's example.
public struct BreakerPolicy: Sendable, Equatable {
    /// Trip after this many failures in a row.
    public var consecutiveFailures = 5
    /// Or when this share of the window failed...
    public var failureRate = 0.5
    /// ...and the window holds at least this many requests.
    public var minimumRequests = 20
    /// Rolling window length in milliseconds.
    public var windowMs: Int64 = 10_000
    /// How long open lasts before half-open, in milliseconds.
    public var openForMs: Int64 = 30_000
    /// Probes admitted at once in half-open; this many successes close it.
    public var halfOpenRequests = 1

    /// The defaults of SPEC §2.
    public init() {}
}

/// Retry settings of SPEC §2 and §5.
public struct RetryPolicy: Sendable, Equatable {
    /// A condition under which a failed try may be retried.
    public enum Condition: Sendable, Equatable, Hashable, CustomStringConvertible {
        case connectFailure
        case reset
        case timeout
        /// gRPC's UNAVAILABLE (`grpc-status: 14`, SPEC §10).
        case unavailable
        case status(Int)

        /// Parses `connect_failure`, `reset`, `timeout` or a 5xx status code.
        public init?(_ text: String) {
            switch text {
            case "connect_failure": self = .connectFailure
            case "reset": self = .reset
            case "timeout": self = .timeout
            case "unavailable": self = .unavailable
            default:
                guard let code = Int(text), (500...599).contains(code) else { return nil }
                self = .status(code)
            }
        }

        public var description: String {
            switch self {
            case .connectFailure: return "connect_failure"
            case .reset: return "reset"
            case .timeout: return "timeout"
            case .unavailable: return "unavailable"
            case .status(let code): return String(code)
            }
        }
    }

    /// Extra tries after the first; 0 turns retries off.
    public var attempts = 2
    /// Timeout of each try until its response head, in milliseconds; 0 (the default, SPEC §17) means only the
    /// request timeout applies, so a slow but healthy upstream is not cut off unless the user asks for it.
    public var perTryTimeoutMs: Int64 = 0
    /// What may be retried.
    public var retryOn: [Condition] = [.connectFailure, .reset, .status(502), .status(503), .status(504)] {
        didSet { self.retryStatuses = Self.statuses(of: self.retryOn) }
    }
    /// The statuses of `retry_on`, kept beside it so a try reads them without building an array per request.
    public private(set) var retryStatuses: [Int] = [502, 503, 504]

    static func statuses(of conditions: [Condition]) -> [Int] {
        conditions.compactMap {
            if case .status(let code) = $0 { return code }
            return nil
        }
    }
    /// Retries may add at most this share (in percent) of the window's requests.
    public var budgetPercent = 20

    /// The defaults of SPEC §2.
    public init() {}
}

/// Everything that can be set in `defaults` and overridden per service.
public struct ServicePolicy: Sendable, Equatable {
    /// Milliseconds to establish a connection.
    public var connectTimeoutMs: Int64 = 1000
    /// Milliseconds for the whole exchange; 0 means none.
    public var requestTimeoutMs: Int64 = 15_000
    /// Milliseconds without a byte either way that end the exchange; 0 means none.
    public var idleTimeoutMs: Int64 = 60_000
    /// In-flight requests allowed for the service.
    public var maxConcurrentRequests = 1024
    /// Endpoint selection.
    public var balance: Balance = .roundRobin
    /// The HTTP version spoken to the endpoints (SPEC §10).
    public var upstreamProtocol: UpstreamProtocol = .auto
    /// Circuit breaker settings.
    public var breaker = BreakerPolicy()
    /// Retry settings.
    public var retries = RetryPolicy()
    /// Faults injected into tries (SPEC §11); none by default.
    public var faults = FaultPolicy.none
    /// Whether to verify the certificate of `https://` endpoints (on by default; off only for testing).
    public var tlsVerify = true
    /// A PEM bundle of CAs to trust for `https://` endpoints instead of the system's.
    public var tlsCAFile: String?
    /// A client certificate (PEM) presented to `https://` endpoints (mTLS, SPEC §18); with `tlsKeyFile`.
    public var tlsCertFile: String?
    /// The private key (PEM) of `tlsCertFile`.
    public var tlsKeyFile: String?
    /// The name sent as SNI and verified in the upstream's certificate, instead of the endpoint's host; the
    /// endpoint's address is still the one connected to.
    public var tlsServerName: String?

    /// The defaults of SPEC §2.
    public init() {}
}

/// How a service's endpoint is chosen for each request.
public enum Balance: String, Sendable, Equatable {
    case roundRobin = "round_robin"
    case leastRequest = "least_request"
}

/// How Outrigger speaks to a service's endpoints (SPEC §10).
public enum UpstreamProtocol: String, Sendable, Equatable {
    /// HTTP/1.1 always.
    case http1
    /// HTTP/2 with prior knowledge, also on `http://` and unix endpoints (what gRPC servers expect).
    case h2c
    /// HTTP/1.1 to `http://` and unix endpoints, HTTP/2 by ALPN to `https://` ones when the upstream offers it.
    case auto
}
