import Logging
import NIOCore
import NIOHTTP1

/// The proxy flow of one client connection: route each request, forward it through a curl worker, stream the
/// response back, and answer Outrigger's own errors (SPEC §3, §4, §5, §8).
///
/// What has been read and sent, the timer and the pipelining queue are the `ExchangeStateMachine`'s; this handler
/// carries out what its events return. Requests are served one at a time in arrival order (HTTP/1.1 pipelining):
/// parts of a later request wait in a bounded queue, and reads stop when it is full.
final class ProxyHandler: ChannelDuplexHandler, TransferSink {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let context: ProxyContext
    let connectionGuard: ConnectionGuard
    var handlerContext: ChannelHandlerContext?
    var machine = ExchangeStateMachine()
    var exchange: Exchange?
    var random = FastRandom()
    var clientAddress: String?
    var timer: Scheduled<Void>?
    var timerScheduledFor: NIODeadline?

    /// Set on the TLS listener: `X-Forwarded-Proto: https` and the client certificate (SPEC §18).
    let tls: InboundTLSInfo?

    init(context: ProxyContext, connectionGuard: ConnectionGuard, tls: InboundTLSInfo? = nil) {
        self.context = context
        self.connectionGuard = connectionGuard
        self.tls = tls
    }

    // === impl ChannelHandler ===

    func handlerAdded(context: ChannelHandlerContext) {
        self.handlerContext = context
        self.clientAddress = context.channel.remoteAddress?.ipAddress
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.machine.connectionClosed()
        self.syncTimer(context: context)
        if let attempt = self.exchange?.upgrade {
            attempt.deadline?.cancel()
            if attempt.tunnel != nil {
                // The tunnel writes the access log line once both of its sides closed.
                if !attempt.tunnelInstalled { attempt.upstream?.close(promise: nil) }
                self.handlerContext = nil
                context.fireChannelInactive()
                return
            }
            attempt.upstream?.close(promise: nil)
        }
        if let exchange = self.exchange {
            self.abandon(exchange)
            // nginx's 499: the client closed the connection before its response was complete.
            self.logAccess(exchange, status: exchange.status == 0 ? 499 : exchange.status, error: "client_closed")
        }
        self.exchange = nil
        self.handlerContext = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .process(let item) = self.machine.partRead(self.unwrapInboundIn(data)) {
            self.handle(item, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .process(let item) = self.machine.errorCaught(error) {
            self.handle(item, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            // Idle keep-alive connections close now; busy ones after their current response.
            if self.machine.drainRequested() { context.close(promise: nil) }
            return
        }
        if event is HeaderReadTimeoutEvent {
            guard self.exchange == nil else { return }
            let error = OutriggerError(
                .requestHeaderTimeout, "the request head did not arrive within header_read_timeout")
            self.rescue(error, context: context, close: true)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.exchange?.transfer?.clientWritabilityChanged(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if self.exchange?.upgrade?.tunnelInstalled == true {
            context.read()  // the tunnel's client end decides
            return
        }
        if self.machine.readRequested() { context.read() }
    }

    // === impl ProxyHandler: reading ===

    func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if self.machine.resumeReads() { context.read() }
    }

    func handle(_ item: ExchangeStateMachine.Queued, context: ChannelHandlerContext) {
        switch item {
        case .part(.head(let head)):
            self.start(head, context: context)
        case .part(.body(let buffer)):
            self.receiveBody(buffer, context: context)
        case .part(.end):
            guard let exchange = self.exchange else { return }
            let end = self.machine.requestEnded(now: context.eventLoop.now)
            if end.endUpstreamBody { exchange.transfer?.endBody() }
            self.syncTimer(context: context)
            if end.finish { self.finishExchange(exchange, context: context) }
        case .error(let error):
            self.handleError(error, context: context)
        }
    }

    func handleError(_ error: any Error, context: ChannelHandlerContext) {
        let outrigger: OutriggerError
        if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
            outrigger = OutriggerError(
                .requestHeaderTooLarge,
                "the request head exceeds limits.max_request_header_bytes (\(self.context.limits.maxRequestHeaderBytes))"
            )
        } else {
            outrigger = OutriggerError(.badRequest, "malformed HTTP request: \(error)")
        }
        self.rescue(outrigger, context: context, close: true)
    }

    /// Keeps the connection's scheduled task in step with the state machine's timer deadline: scheduled again
    /// only when the machine wants it earlier (or gone, when the connection closes).
    func syncTimer(context: ChannelHandlerContext) {
        let wanted = self.machine.timerDeadline
        guard wanted != self.timerScheduledFor else { return }
        if let wanted, let scheduled = self.timerScheduledFor, scheduled <= wanted { return }
        self.timer?.cancel()
        self.timer = nil
        self.timerScheduledFor = wanted
        guard let wanted else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: wanted) {
            loopBound.value.timerFired()
        }
    }

    // === impl ProxyHandler: a new request ===

    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.connectionGuard.headReceived()
        let requestID: String
        if let given = head.headers.first(name: "x-request-id"), RequestID.isSane(given) {
            requestID = given
        } else {
            requestID = RequestID.generate(using: &self.random)
        }
        let exchange = Exchange(head: head, requestID: requestID, now: context.eventLoop.now)
        self.machine.headReceived(keepAlive: head.isKeepAlive && !self.context.draining.load(ordering: .relaxed))
        self.exchange = exchange
        let state = self.context.state()
        exchange.tracing = state.tracing
        exchange.trace = state.tracing.context(for: head.headers, using: &self.random)

        if head.method == .CONNECT {
            // Outrigger is a reverse proxy for the registry's services, never a tunnel (SPEC §3).
            self.machine.disableKeepAlive()  // the parser treats what follows CONNECT as tunnel bytes
            let error = OutriggerError(.badRequest, "CONNECT is not supported: Outrigger is not a forward proxy")
            self.rescue(error, context: context)
            return
        }
        let hosts = head.headers["host"]
        if hosts.count > 1 || (hosts.isEmpty && head.version.major == 1 && head.version.minor >= 1) {
            // RFC 9112 §3.2: an HTTP/1.1 request needs exactly one Host; anything else is a 400.
            let error = OutriggerError(
                .badRequest,
                hosts.isEmpty ? "HTTP/1.1 request without a Host header" : "request with several Host headers")
            self.machine.disableKeepAlive()  // a malformed request ends the connection, as for parse errors
            self.rescue(error, context: context)
            return
        }
        switch Self.bodyFraming(head.headers) {
        case .failure(let error):
            self.machine.disableKeepAlive()
            self.rescue(error, context: context)
            return
        case .success(let framing):
            exchange.body = framing
        }
        let expectsBody = exchange.body != .none && exchange.body != .length(0)
        self.machine.bodyExpected(expectsBody)
        exchange.maxBodyBytes = state.loaded.config.limits.maxRequestBodyBytes
        let limit = exchange.maxBodyBytes
        if limit > 0, case .length(let length) = exchange.body, length > limit {
            let error = OutriggerError(
                .requestBodyTooLarge,
                "the request body of \(length) bytes exceeds limits.max_request_body_bytes (\(limit))")
            self.rescue(error, context: context)
            return
        }

        switch state.router.route(target: head.uri, hostHeader: head.headers.first(name: "host")) {
        case .failure(let error):
            self.rescue(error, context: context)
            return
        case .success(let match):
            exchange.service = match.service
            exchange.target = match.target
        }
        let service = exchange.service!
        service.counters.requests.wrappingIncrement(ordering: .relaxed)
        guard service.acquireSlot() else {
            let error = OutriggerError(
                .overloaded,
                "more than max_concurrent_requests (\(service.config.policy.maxConcurrentRequests)) in flight",
                service: service.name)
            self.rescue(error, context: context)
            return
        }
        exchange.holdsSlot = true
        let policy = service.config.policy
        let bodyLength: Int64?
        switch exchange.body {
        case .none: bodyLength = 0
        case .length(let length): bodyLength = length
        case .chunked: bodyLength = nil
        }
        let plan = RetryPlan(
            policy: policy.retries, method: head.method.rawValue,
            hasIdempotencyKey: head.headers.contains(name: "idempotency-key"), bodyLength: bodyLength)
        exchange.retry = plan
        if plan.keepsBody && expectsBody { exchange.replay = context.channel.allocator.buffer(capacity: 0) }
        if !expectsBody && UpgradeAttempt.isRequested(by: head) {
            // The connection ends with the upgrade: a tunnel, or the upstream's refusal and a close.
            self.machine.disableKeepAlive()
            exchange.deadlineMs = Self.deadline(
                policy: policy, header: head.headers.first(name: "x-outrigger-timeout-ms"), nowMs: service.clock.nowMs()
            )
            self.startUpgrade(exchange, context: context)
            return
        }
        exchange.deadlineMs = Self.deadline(
            policy: policy, header: head.headers.first(name: "x-outrigger-timeout-ms"),
            grpcTimeout: head.headers.first(name: "grpc-timeout"), nowMs: service.clock.nowMs())

        if expectsBody,
            head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
        {
            // RFC 9110 §10.1.1: Outrigger reads the body itself and streams it on, so the client may send it now.
            var interim = context.channel.allocator.buffer(capacity: 32)
            interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            context.writeAndFlush(self.wrapOutboundOut(interim), promise: nil)
        }
        if head.version.major >= 2 && exchange.body == .chunked {
            // An HTTP/2 request body of unknown length (gRPC's): the try starts once the frames read with the
            // HEADERS have been handed over, so a body that came with them (a unary call's whole message) goes
            // out without pausing the upload (libcurl 7.88's HTTP/2 uploads fail now and then across a pause).
            exchange.earlyBody = context.channel.allocator.buffer(capacity: 0)
            let loopBound = NIOLoopBound((self, exchange), eventLoop: context.eventLoop)
            context.eventLoop.execute {
                let (handler, exchange) = loopBound.value
                guard let context = handler.handlerContext, handler.exchange === exchange else { return }
                handler.startTry(exchange, avoid: nil, context: context)
            }
            return
        }
        self.startTry(exchange, avoid: nil, context: context)
    }

    /// The overall deadline: `request_timeout`, shortened (never lengthened) by a valid `x-outrigger-timeout-ms`
    /// or gRPC's `grpc-timeout` (SPEC §10).
    static func deadline(policy: ServicePolicy, header: String?, grpcTimeout: String? = nil, nowMs: Int64) -> Int64? {
        var timeout = policy.requestTimeoutMs > 0 ? policy.requestTimeoutMs : nil
        if let header, let asked = Int64(header), asked > 0 {
            timeout = min(timeout ?? asked, asked)
        }
        if let grpcTimeout, let asked = Self.grpcTimeoutMs(grpcTimeout) {
            timeout = min(timeout ?? asked, asked)
        }
        return timeout.map { nowMs + $0 }
    }

    /// `grpc-timeout`: up to 8 digits and a unit (H, M, S, m, u, n), in whole milliseconds (at least 1).
    static func grpcTimeoutMs(_ value: String) -> Int64? {
        guard let unit = value.last, value.count >= 2, value.count <= 9, let amount = Int64(value.dropLast()),
            amount >= 0
        else { return nil }
        let ms: Int64
        switch unit {
        case "H": ms = amount * 3_600_000
        case "M": ms = amount * 60_000
        case "S": ms = amount * 1000
        case "m": ms = amount
        case "u": ms = amount / 1000
        case "n": ms = amount / 1_000_000
        default: return nil
        }
        return max(1, ms)
    }

    /// Decides the upstream body framing from Content-Length and Transfer-Encoding (RFC 9112 §6).
    static func bodyFraming(_ headers: HTTPHeaders) -> Result<UpstreamRequest.Body, OutriggerError> {
        let encodings = headers[canonicalForm: "transfer-encoding"]
        let lengths = headers["content-length"]
        if !encodings.isEmpty {
            guard lengths.isEmpty else {
                return .failure(OutriggerError(.badRequest, "request has both Content-Length and Transfer-Encoding"))
            }
            guard encodings.last?.lowercased() == "chunked" else {
                return .failure(OutriggerError(.badRequest, "request Transfer-Encoding does not end in chunked"))
            }
            return .success(.chunked)
        }
        guard let first = lengths.first else { return .success(.none) }
        guard lengths.allSatisfy({ $0 == first }), let length = Int64(first), length >= 0 else {
            return .failure(OutriggerError(.badRequest, "request has an invalid or conflicting Content-Length"))
        }
        return .success(.length(length))
    }

    private func receiveBody(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard let exchange = self.exchange, self.machine.bodyReceived() else { return }
        exchange.bodyBytes += Int64(buffer.readableBytes)
        let limit = exchange.maxBodyBytes
        if limit > 0 && exchange.bodyBytes > limit {
            let error = OutriggerError(
                .requestBodyTooLarge, "the request body exceeds limits.max_request_body_bytes (\(limit))",
                service: exchange.service?.name)
            self.rescue(error, context: context, close: true)
            return
        }
        if exchange.replay != nil {
            exchange.retry?.bodyReceived(total: exchange.bodyBytes)
            if exchange.retry?.keepsBody != true {
                exchange.replay = nil  // too big to keep: this request can no longer be retried
            } else {
                var copy = buffer
                exchange.replay!.writeBuffer(&copy)
            }
        }
        guard let transfer = exchange.transfer else {
            if exchange.earlyBody != nil {
                var copy = buffer
                exchange.earlyBody!.writeBuffer(&copy)
            }
            return
        }
        if transfer.appendBody(buffer) { self.machine.uploadBlocked(true) }
    }
}
