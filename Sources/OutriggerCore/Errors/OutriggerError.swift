/// An error that Outrigger answers itself, with a code a client and an operator can act on (SPEC §8).
///
/// The `code` drives everything a client sees: the status, the JSON body and the `x-outrigger-error` header.
/// It doubles as the metric label, so it is a closed set.
public struct OutriggerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The closed set of error codes of SPEC §8.
    public enum Code: String, Sendable, CaseIterable {
        case badRequest = "bad_request"
        case unknownService = "unknown_service"
        case requestHeaderTimeout = "request_header_timeout"
        case requestBodyTooLarge = "request_body_too_large"
        case requestHeaderTooLarge = "request_header_too_large"
        case upstreamConnectFailed = "upstream_connect_failed"
        /// The TLS handshake with an `https://` endpoint failed, or its certificate did not verify (SPEC §18).
        case upstreamTLSError = "upstream_tls_error"
        case upstreamReset = "upstream_reset"
        case upstreamProtocolError = "upstream_protocol_error"
        case breakerOpen = "breaker_open"
        case overloaded = "overloaded"
        case noEndpoints = "no_endpoints"
        case upstreamConnectTimeout = "upstream_connect_timeout"
        case upstreamTimeout = "upstream_timeout"

        /// The HTTP status this code is answered with.
        /// The gRPC status a gRPC client gets for this error (SPEC §10): UNAVAILABLE when another try or endpoint
        /// could succeed, DEADLINE_EXCEEDED for timeouts, RESOURCE_EXHAUSTED for limits, UNIMPLEMENTED for a
        /// service Outrigger does not know, INTERNAL for an upstream that broke the protocol.
        public var grpcStatus: Int {
            switch self {
            case .breakerOpen, .noEndpoints, .upstreamConnectFailed, .upstreamTLSError, .upstreamReset: return 14
            case .upstreamConnectTimeout, .upstreamTimeout, .requestHeaderTimeout: return 4
            case .overloaded, .requestBodyTooLarge, .requestHeaderTooLarge: return 8
            case .unknownService: return 12
            case .upstreamProtocolError: return 13
            case .badRequest: return 3
            }
        }

        public var status: Int {
            switch self {
            case .badRequest: return 400
            case .unknownService: return 404
            case .requestHeaderTimeout: return 408
            case .requestBodyTooLarge: return 413
            case .requestHeaderTooLarge: return 431
            case .upstreamConnectFailed, .upstreamTLSError, .upstreamReset, .upstreamProtocolError: return 502
            case .breakerOpen, .overloaded, .noEndpoints: return 503
            case .upstreamConnectTimeout, .upstreamTimeout: return 504
            }
        }

        /// The `retry_on` conditions a try that failed with this code meets (SPEC §5, §17). A timed-out try is
        /// both `timeout` and `504`: the status the client would get is the one the user lists.
        public var retryConditions: [RetryPolicy.Condition] {
            switch self {
            case .upstreamConnectFailed, .upstreamConnectTimeout, .upstreamTLSError: return [.connectFailure]
            case .upstreamReset, .upstreamProtocolError: return [.reset]
            case .upstreamTimeout: return [.timeout, .status(504)]
            default: return []
            }
        }

        /// A failure of the upstream that the breaker counts (SPEC §5); rejections by the breaker or the
        /// concurrency limit and the client's own errors do not count.
        public var isUpstreamFailure: Bool {
            switch self {
            case .upstreamConnectFailed, .upstreamConnectTimeout, .upstreamTLSError, .upstreamReset,
                .upstreamProtocolError, .upstreamTimeout:
                return true
            default: return false
            }
        }

        /// No usable connection to the endpoint was made (counts towards ejection, SPEC §3); a failed TLS
        /// handshake is one (SPEC §18).
        public var isConnectFailure: Bool {
            self == .upstreamConnectFailed || self == .upstreamConnectTimeout || self == .upstreamTLSError
        }

        /// The status line's reason phrase.
        public var reason: String {
            switch self.status {
            case 400: return "Bad Request"
            case 404: return "Not Found"
            case 408: return "Request Timeout"
            case 413: return "Content Too Large"
            case 431: return "Request Header Fields Too Large"
            case 502: return "Bad Gateway"
            case 503: return "Service Unavailable"
            case 504: return "Gateway Timeout"
            default: return "Error"
            }
        }
    }

    /// What went wrong, as a stable code.
    public var code: Code
    /// A human-readable explanation, safe to show to the client.
    public var message: String
    /// The service the request was for, when known.
    public var service: String?
    /// Low-level detail for the log (for example libcurl's error text); never sent to the client.
    public var detail: String?

    /// Creates an error with a code and a message.
    public init(_ code: Code, _ message: String, service: String? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.service = service
        self.detail = detail
    }

    public var description: String {
        var text = "\(self.code.rawValue): \(self.message)"
        if let detail = self.detail { text += " (\(detail))" }
        return text
    }
}
