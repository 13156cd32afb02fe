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
        case upstreamReset = "upstream_reset"
        case upstreamProtocolError = "upstream_protocol_error"
        case breakerOpen = "breaker_open"
        case overloaded = "overloaded"
        case noEndpoints = "no_endpoints"
        case upstreamConnectTimeout = "upstream_connect_timeout"
        case upstreamTimeout = "upstream_timeout"

        /// The HTTP status this code is answered with.
        public var status: Int {
            switch self {
            case .badRequest: return 400
            case .unknownService: return 404
            case .requestHeaderTimeout: return 408
            case .requestBodyTooLarge: return 413
            case .requestHeaderTooLarge: return 431
            case .upstreamConnectFailed, .upstreamReset, .upstreamProtocolError: return 502
            case .breakerOpen, .overloaded, .noEndpoints: return 503
            case .upstreamConnectTimeout, .upstreamTimeout: return 504
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
