/// Every retry decision of one request, in one place (SPEC §5, §17): whether the request may be retried at all
/// (idempotent method or `Idempotency-Key`, `attempts` above 0), whether its body can still be replayed, which
/// failures `retry_on` lists, how many tries are left, the overall deadline, the retry budget and the jittered
/// backoff, and which endpoint to avoid.
///
/// A pure value: the exchange keeps one, tells it what happened, and acts on the `Decision` it returns. The budget
/// and random source are passed in by the service that owns them (under its lock), and time is a parameter.
public struct RetryPlan: Sendable, Equatable {
    /// What to do after a failed try.
    public enum Decision: Sendable, Equatable {
        /// Start another try after `afterMs`, on another endpoint than `avoid` where there is one.
        case retry(afterMs: Int64, avoid: Int?)
        /// Answer the client with this try's failure.
        case giveUp(GiveUp)
    }

    /// Why a failed try is not retried; the value is the log's wording.
    public enum GiveUp: String, Sendable, Equatable {
        /// Neither an idempotent method nor an `Idempotency-Key`, or `attempts: 0`.
        case notRetryable = "not_retryable"
        /// The request body grew past the replay limit (64 KiB).
        case bodyNotReplayable = "body_not_replayable"
        /// `attempts` extra tries were already made.
        case attemptsSpent = "attempts_spent"
        /// The failure is not one `retry_on` lists.
        case notInRetryOn = "not_in_retry_on"
        /// Bytes of the response already reached the client.
        case responseStarted = "response_started"
        /// The backoff would end past the request's deadline.
        case deadline
        /// The service's retry budget is spent.
        case budgetExhausted = "budget_exhausted"
    }

    /// Bodies up to this size are kept so a retry can resend them (SPEC §5).
    public static let replayLimit: Int64 = 64 * 1024

    /// The service's retry settings.
    public let policy: RetryPolicy
    /// Idempotent method or `Idempotency-Key`, and `attempts` above 0.
    public let eligible: Bool
    /// The request body is still kept whole for a replay.
    public private(set) var replayable: Bool
    /// Tries started so far (1 after the first).
    public private(set) var triesStarted = 0
    /// The endpoint of the last try, avoided by the next one.
    public private(set) var lastEndpoint: Int?

    /// The plan of a request: `method` and `hasIdempotencyKey` decide eligibility, `bodyLength` (nil when chunked,
    /// 0 when there is no body) whether the body can be kept.
    public init(policy: RetryPolicy, method: String, hasIdempotencyKey: Bool, bodyLength: Int64?) {
        self.policy = policy
        self.eligible = policy.attempts > 0 && (Self.isIdempotent(method) || hasIdempotencyKey)
        self.replayable = bodyLength.map { $0 <= Self.replayLimit } ?? true
    }

    /// Methods that may be retried without an `Idempotency-Key` (SPEC §5).
    public static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE": return true
        default: return false
        }
    }

    /// Whether the request body must be kept for a replay (it is kept until it grows past the limit).
    public var keepsBody: Bool { self.eligible && self.replayable }

    /// A try started on `endpoint`.
    public mutating func tryStarted(endpoint: Int) {
        self.triesStarted += 1
        self.lastEndpoint = endpoint
    }

    /// The request body has reached `total` bytes so far; past the replay limit the request can no longer be
    /// retried.
    public mutating func bodyReceived(total: Int64) {
        if total > Self.replayLimit { self.replayable = false }
    }

    /// Whether a failure of the current try could still be retried; a response with a status of `retry_on` is
    /// then held back until complete, so a retry never follows bytes already sent to the client.
    public var mayRetryLater: Bool {
        self.eligible && self.replayable && self.triesStarted < self.policy.attempts + 1
    }

    /// The statuses to hold back on the current try.
    public var holdStatuses: [Int] { self.mayRetryLater ? self.policy.retryStatuses : [] }

    /// Whether a gRPC trailers-only UNAVAILABLE is held back on the current try (SPEC §10).
    public var holdsGRPCUnavailable: Bool { self.mayRetryLater && self.policy.retryOn.contains(.unavailable) }

    /// Decides after a failed try. Takes a retry from `budget` and draws the backoff from `random` only when every
    /// other condition allows the retry.
    public func decide<G: RandomNumberGenerator>(
        after failure: UpstreamFailure, responseStarted: Bool, nowMs: Int64, deadlineMs: Int64?,
        budget: inout RetryBudget, random: inout G
    ) -> Decision {
        guard self.eligible else { return .giveUp(.notRetryable) }
        guard !responseStarted else { return .giveUp(.responseStarted) }
        guard self.replayable else { return .giveUp(.bodyNotReplayable) }
        guard self.triesStarted < self.policy.attempts + 1 else { return .giveUp(.attemptsSpent) }
        guard failure.matches(self.policy.retryOn) else { return .giveUp(.notInRetryOn) }
        let delay = Backoff.delayMs(retry: self.triesStarted, using: &random)
        if let deadlineMs, nowMs + delay >= deadlineMs { return .giveUp(.deadline) }
        guard budget.tryRetry(nowMs: nowMs) else { return .giveUp(.budgetExhausted) }
        return .retry(afterMs: delay, avoid: self.lastEndpoint)
    }
}
