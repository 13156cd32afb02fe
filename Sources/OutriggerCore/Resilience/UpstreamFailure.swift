/// Why one try failed, as the breaker, the retry plan and the admin API see it (SPEC §5).
///
/// Either one of Outrigger's own upstream errors (connect failure, reset, timeout, ...) or a 5xx status the
/// upstream answered with. One value, so nothing downstream passes failure kinds around as strings.
public enum UpstreamFailure: Sendable, Equatable, CustomStringConvertible {
    /// The try failed with one of Outrigger's upstream error codes.
    case error(OutriggerError.Code)
    /// The upstream answered with a 5xx status.
    case status(Int)
    /// A gRPC answer with `grpc-status: 14` (UNAVAILABLE), whatever the HTTP status (SPEC §10).
    case grpcUnavailable

    /// The failure of a finished response, or nil when its status is not a failure (SPEC §5: 5xx counts).
    public static func of(status: Int) -> UpstreamFailure? { status >= 500 ? .status(status) : nil }

    /// The same, for a response that may carry a gRPC status (in its head, or in its trailers).
    public static func of(status: Int, grpcStatus: Int?) -> UpstreamFailure? {
        if let failure = Self.of(status: status) { return failure }
        return grpcStatus == 14 ? .grpcUnavailable : nil
    }

    /// `upstream_reset`, `http_503`, ...: the label shown in `/breakers` and the log.
    public var description: String {
        switch self {
        case .error(let code): return code.rawValue
        case .status(let status): return "http_\(status)"
        case .grpcUnavailable: return "grpc_unavailable"
        }
    }

    /// No connection was made: counts towards ejecting the endpoint (SPEC §3).
    public var isConnectFailure: Bool {
        if case .error(let code) = self { return code.isConnectFailure }
        return false
    }

    /// Whether `retry_on` lists a condition this failure meets.
    public func matches(_ retryOn: [RetryPolicy.Condition]) -> Bool {
        switch self {
        case .status(let status): return retryOn.contains(.status(status))
        case .grpcUnavailable: return retryOn.contains(.unavailable)
        case .error(let code): return code.retryConditions.contains { retryOn.contains($0) }
        }
    }
}
