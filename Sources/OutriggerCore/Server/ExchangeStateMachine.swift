import NIOCore
import NIOHTTP1

/// The life of the exchanges on one client connection, as a value: what has been read of the request, what has
/// been sent of the response, whether a try is in flight, when the connection's one timer must fire, whether reads
/// may go on, and which pipelined parts wait their turn (SPEC §4, §5, §17).
///
/// Each event returns what the handler must do; the handler (`ProxyHandler`) only carries it out, in the style of
/// NIO's `HTTPServerPipelineHandler` and async-http-client's `HTTPRequestStateMachine`. Time is an input (`now`),
/// so every rule here is tested without I/O (`ExchangeStateMachineTests`). Routing, breakers and retry decisions
/// stay with the services (`ServiceRuntime`, `RetryPlan`), which are pure in their own right.
struct ExchangeStateMachine {
    /// A request part (or a parse error) that arrived while a response was still pending (HTTP/1.1 pipelining).
    enum Queued {
        case part(HTTPServerRequestPart)
        case error(any Error)
    }

    /// How far the response of the current exchange has gone.
    enum Response: Equatable {
        /// Nothing sent yet: a retry or a local answer is still possible.
        case pending
        /// Bytes went to the client: only the upstream can complete it, or the connection is cut.
        case started
        /// Complete (the upstream's, or Outrigger's own answer).
        case complete
    }

    /// The current exchange, from its head to its response's end.
    struct Exchange: Equatable {
        /// The connection stays open after this exchange.
        var keepAlive: Bool
        /// The head announced a body (Content-Length above 0 or chunked).
        var expectsBody = false
        /// The whole request (head, body, end) has been read.
        var requestEnded = false
        var response = Response.pending
        /// A try is handed to the curl worker and has not ended.
        var tryInFlight = false
        /// The answer is already out (a local error): remaining body parts are dropped.
        var discardBody = false
        /// `per_try_timeout` of the current try in milliseconds, 0 when it does not apply.
        var perTryMs: Int64 = 0
        /// When the current try must have started answering; set once the request is complete.
        var perTryDeadline: NIODeadline?
        /// `idle_timeout` in nanoseconds, 0 = none.
        var idleTimeoutNs: Int64 = 0
    }

    /// What a read part leads to.
    enum Inbound {
        /// Handle it now.
        case process(Queued)
        /// Kept for later: a response is pending.
        case queued
        /// The connection is closing: ignore it.
        case drop
    }

    /// What ending the request body leads to.
    struct RequestEnd: Equatable {
        /// Tell the transfer the body is complete.
        var endUpstreamBody = false
        /// The response is already complete (a local answer that waited for the body): finish the exchange.
        var finish = false
    }

    /// How a local answer (Outrigger's own error) goes out.
    enum LocalAnswer: Equatable {
        /// Response bytes already went to the client: cut the connection, the response cannot be completed honestly.
        case truncate
        /// Write the answer, then close the connection.
        case writeThenClose
        /// Write the answer and finish the exchange.
        case writeThenFinish
        /// Write the answer; the request body still arrives and is dropped, then the exchange finishes.
        case writeThenDrainBody
    }

    /// What the connection's timer found.
    enum TimerOutcome: Equatable {
        case none
        /// The try did not start answering within `per_try_timeout`.
        case perTryTimeout
        /// No byte moved either way within `idle_timeout`.
        case idleTimeout
    }

    /// Pipelined parts held while a response is pending, before reads stop.
    static let maxQueuedParts = 64

    private(set) var exchange: Exchange?
    /// The connection is being closed: nothing more is read or served.
    private(set) var closing = false
    /// When the connection's one timer must fire; the handler keeps its scheduled task in step with it.
    private(set) var timerDeadline: NIODeadline?
    private var queue = CircularBuffer<Queued>()
    private var readPending = false
    private var uploadBlocked = false

    // === reading ===

    /// The current request is fully read and its response is still being produced.
    var isWaitingForResponse: Bool {
        guard let exchange = self.exchange else { return false }
        return exchange.requestEnded && exchange.response != .complete
    }

    /// Reads go on while a response is pending (so a client's close is seen and no epoll re-registration is paid
    /// per request); only a client that pipelines more than `maxQueuedParts` parts ahead is held, or an upload the
    /// upstream does not take fast enough.
    var mayRead: Bool { !self.closing && !self.uploadBlocked && self.queue.count < Self.maxQueuedParts }

    /// Parts waiting behind the current exchange.
    var queuedCount: Int { self.queue.count }

    /// A request part arrived.
    mutating func partRead(_ part: HTTPServerRequestPart) -> Inbound {
        self.inbound(.part(part))
    }

    /// The parser failed; the error is handled in its turn, after what came before it.
    mutating func errorCaught(_ error: any Error) -> Inbound {
        self.inbound(.error(error))
    }

    private mutating func inbound(_ item: Queued) -> Inbound {
        if self.closing { return .drop }
        if self.isWaitingForResponse || !self.queue.isEmpty {
            self.queue.append(item)
            return .queued
        }
        return .process(item)
    }

    /// NIO asks to read: true to read now, false to hold the read until `resumeReads` allows it.
    mutating func readRequested() -> Bool {
        if self.mayRead { return true }
        self.readPending = true
        return false
    }

    /// True when a held read should be issued now.
    mutating func resumeReads() -> Bool {
        guard self.readPending && self.mayRead else { return false }
        self.readPending = false
        return true
    }

    /// The upload queue towards the upstream filled up (stop reading) or drained (reads may resume).
    mutating func uploadBlocked(_ blocked: Bool) {
        self.uploadBlocked = blocked
    }

    // === the exchange ===

    /// A request head was read: a new exchange starts.
    mutating func headReceived(keepAlive: Bool) {
        self.exchange = Exchange(keepAlive: keepAlive)
    }

    /// The connection must not be reused after this exchange (malformed framing, draining, `Connection: close`).
    mutating func disableKeepAlive() {
        self.exchange?.keepAlive = false
    }

    /// The head's framing announces a body.
    mutating func bodyExpected(_ expected: Bool) {
        self.exchange?.expectsBody = expected
    }

    /// A body part arrived: true to pass it on, false to drop it (no exchange, or its answer is already out).
    func bodyReceived() -> Bool {
        guard let exchange = self.exchange else { return false }
        return !exchange.discardBody
    }

    /// The request's end arrived.
    mutating func requestEnded(now: NIODeadline) -> RequestEnd {
        guard var exchange = self.exchange else { return RequestEnd() }
        exchange.requestEnded = true
        let result = RequestEnd(
            endUpstreamBody: !exchange.discardBody && exchange.tryInFlight, finish: exchange.response == .complete)
        self.exchange = exchange
        self.startPerTryClock(now: now)
        return result
    }

    /// A try was handed to the curl worker. `lastActivityNs` is when its idle clock starts.
    mutating func tryStarted(perTryMs: Int64, idleTimeoutNs: Int64, lastActivityNs: UInt64, now: NIODeadline) {
        guard var exchange = self.exchange else { return }
        exchange.tryInFlight = true
        exchange.perTryMs = perTryMs
        exchange.perTryDeadline = nil
        exchange.idleTimeoutNs = idleTimeoutNs
        self.exchange = exchange
        self.startPerTryClock(now: now)
        if idleTimeoutNs > 0 { self.arm(.uptimeNanoseconds(lastActivityNs + UInt64(idleTimeoutNs))) }
    }

    /// Starts the current try's `per_try_timeout` once the whole request has arrived (as Envoy's route timeouts
    /// start at the end of the downstream request): it measures the upstream's time to answer, not the upload.
    private mutating func startPerTryClock(now: NIODeadline) {
        guard var exchange = self.exchange, exchange.perTryMs > 0, exchange.perTryDeadline == nil,
            exchange.tryInFlight, exchange.requestEnded, exchange.response == .pending
        else { return }
        let deadline = now + .milliseconds(exchange.perTryMs)
        exchange.perTryDeadline = deadline
        self.exchange = exchange
        self.arm(deadline)
    }

    /// Response bytes went (or are going) to the client: no retry and no local answer is possible any more, and
    /// `per_try_timeout` no longer applies (a long download is bounded by `request_timeout` and `idle_timeout`).
    mutating func responseStarted() {
        guard var exchange = self.exchange, exchange.response == .pending else { return }
        exchange.response = .started
        exchange.perTryDeadline = nil
        self.exchange = exchange
    }

    /// The current try ended, with a response or a failure; what follows (retry, answer, finish) is the caller's.
    mutating func tryEnded() {
        self.exchange?.tryInFlight = false
        self.exchange?.perTryDeadline = nil
        self.uploadBlocked = false
    }

    /// The upstream's response is complete. `closeConnection` when its framing requires a close.
    mutating func responseCompleted(closeConnection: Bool) {
        guard var exchange = self.exchange else { return }
        exchange.response = .complete
        // The upstream answered before the request body was complete: the rest cannot be skipped safely.
        if closeConnection || !exchange.requestEnded { exchange.keepAlive = false }
        self.exchange = exchange
    }

    /// Outrigger answers the exchange itself (SPEC §8). `close` ends the connection after the answer.
    mutating func answerLocally(close: Bool) -> LocalAnswer {
        guard var exchange = self.exchange else {
            // No request was parsed: answer and close, nothing queued behind it is served.
            self.beginClosing()
            return .writeThenClose
        }
        if exchange.response != .pending {
            self.exchange = nil
            self.beginClosing()
            return .truncate
        }
        exchange.discardBody = true
        exchange.response = .complete
        exchange.tryInFlight = false
        exchange.perTryDeadline = nil
        if close || (!exchange.requestEnded && exchange.expectsBody) {
            // Unread body bytes follow; rather than read a possibly huge body to find the next request, close.
            exchange.keepAlive = false
        }
        self.exchange = exchange
        if close {
            self.exchange = nil
            self.beginClosing()
            return .writeThenClose
        }
        return exchange.requestEnded || !exchange.keepAlive ? .writeThenFinish : .writeThenDrainBody
    }

    /// The exchange is over (logged by the caller): true when the connection stays open for the next request.
    mutating func exchangeFinished(draining: Bool) -> Bool {
        let keepAlive = self.exchange?.keepAlive ?? false
        self.exchange = nil
        // The timer stays armed: it finds no exchange and stops, or the next exchange's later deadline re-arms it
        // when it fires, instead of a cancel and a new task per request.
        if !keepAlive || draining {
            self.beginClosing()
            return false
        }
        return true
    }

    /// The next pipelined part to handle now, if the connection is free for it.
    mutating func nextQueued() -> Queued? {
        guard !self.closing, !self.isWaitingForResponse, !self.queue.isEmpty else { return nil }
        return self.queue.removeFirst()
    }

    // === the connection ===

    /// The connection's timer fired at `now`; `lastActivityNs` is when a byte last moved for the current try.
    mutating func timerFired(now: NIODeadline, lastActivityNs: UInt64) -> TimerOutcome {
        self.timerDeadline = nil
        guard var exchange = self.exchange, exchange.tryInFlight else { return .none }
        if let deadline = exchange.perTryDeadline, exchange.response == .pending {
            if now >= deadline {
                exchange.perTryDeadline = nil
                self.exchange = exchange
                return .perTryTimeout
            }
            self.arm(deadline)
        }
        if exchange.idleTimeoutNs > 0 {
            let idle = NIODeadline.uptimeNanoseconds(lastActivityNs + UInt64(exchange.idleTimeoutNs))
            if now >= idle { return .idleTimeout }
            self.arm(idle)
        }
        return .none
    }

    /// A graceful drain began: true when the connection is idle and closes now; a busy one closes after its
    /// current response (`exchangeFinished(draining: true)`).
    mutating func drainRequested() -> Bool {
        guard self.exchange == nil && self.queue.isEmpty && !self.closing else { return false }
        self.beginClosing()
        return true
    }

    /// The client connection closed: the current exchange (if any) is abandoned and nothing queued is served.
    mutating func connectionClosed() {
        self.exchange = nil
        self.timerDeadline = nil
        self.beginClosing()
    }

    private mutating func beginClosing() {
        self.closing = true
        self.queue.removeAll()
    }

    /// Makes sure the timer fires by `deadline`: one timer per connection, moved only earlier, re-armed when it
    /// fires early (a scheduled task per request costs more than the rest of its bookkeeping, bench/README.md).
    private mutating func arm(_ deadline: NIODeadline) {
        if let current = self.timerDeadline, current <= deadline { return }
        self.timerDeadline = deadline
    }
}
