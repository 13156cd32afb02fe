import NIOCore
import NIOHTTP1

/// What one request/response exchange on a client connection carries across its tries: routing, the retry plan,
/// the replay buffer and what the access log reports (SPEC §4, §5, §6). Its protocol state (what has been read and
/// sent) is the connection's `ExchangeStateMachine`.
final class Exchange {
    /// The id sent upstream and returned to the client.
    let requestID: String
    let head: HTTPRequestHead
    let isHead: Bool

    // === routing and policy ===
    var service: ServiceRuntime?
    var target = ""
    var body: UpstreamRequest.Body = .none
    /// Holds a `max_concurrent_requests` slot until the exchange ends.
    var holdsSlot = false
    /// Overall deadline (request_timeout, shortened by x-outrigger-timeout-ms), on the service clock.
    var deadlineMs: Int64?

    // === the current try ===
    var transfer: (any UpstreamCall)?
    /// The current try's faults as `x-outrigger-fault` says them (SPEC §11), nil when none acted on it.
    var tryFault: String?
    /// Every kind of fault that acted on a try of this request, for the access log.
    var faults: [FaultKind] = []
    var ticket: CircuitBreaker.Ticket?
    var endpointIndex: Int?

    /// An upgrade (SPEC §10) in progress, instead of tries.
    var upgrade: UpgradeAttempt?
    /// Set once an upgraded connection's access log line is written.
    var tunnelLogged = false

    // === retries (SPEC §5) ===
    /// Every retry decision of this request.
    var retry: RetryPlan?
    /// The failure of the last try, answered if no retry follows.
    var lastError: OutriggerError?
    /// Request body kept for replay while the plan says so; nil once too big.
    var replay: ByteBuffer?
    /// Body bytes read before the first try started (an HTTP/2 body of unknown length waits one loop turn).
    var earlyBody: ByteBuffer?

    /// Tries started so far (1 after the first).
    var tries: Int { self.retry?.triesStarted ?? 0 }

    // === observability (SPEC §6) ===
    var trace: TraceContext?
    /// The trace handling of the configuration snapshot the request started on.
    var tracing = TracePropagator(formats: [], sampleRatio: 0)
    let startedAt: NIODeadline
    let startedWall = AccessRecord.now()
    var firstTryAt: NIODeadline?
    var upstreamDoneAt: NIODeadline?
    var bytesOut: Int64 = 0
    var status = 0
    /// The upstream's `grpc-status` (SPEC §10), or the one Outrigger answered with.
    var grpcStatus: Int?
    var errorCode: OutriggerError.Code?
    /// Retries started, for the span's events (SPEC §13): when, and the failure that caused each.
    var retryEvents: [(timeUnixNs: UInt64, failure: String, attempt: Int)] = []
    var endpointName: String?
    /// The last try's endpoint host and port (0 for unix sockets), for the span's `server.*` (SPEC §13).
    var endpointAddress: (host: String, port: Int)?

    // === request progress (the protocol state is the connection's `ExchangeStateMachine`) ===
    var bodyBytes: Int64 = 0
    /// `limits.max_request_body_bytes` of the snapshot the request started on (0 = unlimited); read per body
    /// part, so kept here rather than looked up under the config lock each time.
    var maxBodyBytes: Int64 = 0

    /// A gRPC call (`content-type: application/grpc…`): its errors are answered the gRPC way (SPEC §10).
    let isGRPC: Bool

    /// `application/grpc`, `application/grpc+proto`, … in any case, without a lower-cased copy per request.
    static func isGRPCContentType(_ value: String) -> Bool {
        let prefix = "application/grpc".utf8
        let utf8 = value.utf8
        guard utf8.count >= prefix.count else { return false }
        return HeaderNames.equalsIgnoringCase(utf8.prefix(prefix.count), prefix)
    }

    init(head: HTTPRequestHead, requestID: String, now: NIODeadline) {
        self.head = head
        self.requestID = requestID
        self.isHead = head.method == .HEAD
        self.isGRPC = head.headers.first(name: "content-type").map(Self.isGRPCContentType) ?? false
        self.startedAt = now
    }
}
