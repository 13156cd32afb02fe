import NIOCore
import NIOHTTP1

/// One request/response exchange on a client connection, across all its tries (SPEC §4, §5).
final class Exchange {
    /// The id sent upstream and returned to the client.
    let requestID: String
    let head: HTTPRequestHead
    let isHead: Bool
    var keepAlive: Bool

    // === routing and policy ===
    var service: ServiceRuntime?
    var target = ""
    var body: UpstreamRequest.Body = .none
    /// The head announced a body (Content-Length above 0 or chunked).
    var expectsBody = false
    /// Holds a `max_concurrent_requests` slot until the exchange ends.
    var holdsSlot = false
    /// Overall deadline (request_timeout, shortened by x-outrigger-timeout-ms), on the service clock.
    var deadlineMs: Int64?

    // === the current try ===
    var transfer: Transfer?
    var ticket: CircuitBreaker.Ticket?
    var endpointIndex: Int?
    /// `per_try_timeout` for the current try in milliseconds, 0 when it does not apply; it starts once the request
    /// is fully sent to Outrigger, so a long upload is not cut by it.
    var perTryMs: Int64 = 0
    /// When the current try must have started answering (`per_try_timeout`), checked by the connection's timer.
    var perTryDeadline: NIODeadline?
    /// `idle_timeout` of the request's service in nanoseconds; 0 = none. Measured by Outrigger itself from the
    /// transfer's last byte either way (SPEC §17).
    var idleTimeoutNs: Int64 = 0

    // === retries (SPEC §5) ===
    /// Every retry decision of this request.
    var retry: RetryPlan?
    /// The failure of the last try, answered if no retry follows.
    var lastError: OutriggerError?
    /// Request body kept for replay while the plan says so; nil once too big.
    var replay: ByteBuffer?

    /// When `transfer` goes idle past `idle_timeout` if no byte moves before (only meaningful when it is set).
    func idleDeadline(of transfer: Transfer) -> NIODeadline {
        .uptimeNanoseconds(transfer.lastActivityNs + UInt64(self.idleTimeoutNs))
    }

    /// Tries started so far (1 after the first).
    var tries: Int { self.retry?.triesStarted ?? 0 }

    // === observability (SPEC §6) ===
    var trace: TraceContext?
    /// The trace handling of the configuration snapshot the request started on.
    var tracing = TracePropagator(formats: [], sampleRatio: 0)
    let startedAt = NIODeadline.now()
    let startedWall = AccessRecord.now()
    var firstTryAt: NIODeadline?
    var upstreamDoneAt: NIODeadline?
    var bytesOut: Int64 = 0
    var status = 0
    var errorCode: OutriggerError.Code?
    var endpointName: String?

    // === request and response progress ===
    var requestEnded = false
    var responseStarted = false
    var responseComplete = false
    /// The answer is already out (a local error): remaining body parts are dropped.
    var discardBody = false
    var bodyBytes: Int64 = 0
    /// `limits.max_request_body_bytes` of the snapshot the request started on (0 = unlimited); read per body
    /// part, so kept here rather than looked up under the config lock each time.
    var maxBodyBytes: Int64 = 0

    init(head: HTTPRequestHead, requestID: String) {
        self.head = head
        self.requestID = requestID
        self.isHead = head.method == .HEAD
        self.keepAlive = head.isKeepAlive
    }
}
