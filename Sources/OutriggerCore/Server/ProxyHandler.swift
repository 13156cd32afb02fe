import Logging
import NIOCore
import NIOHTTP1

/// The proxy flow of one client connection: route each request, forward it through a curl worker, stream the
/// response back, and answer Outrigger's own errors (SPEC §3, §4, §8).
///
/// Requests are served one at a time in arrival order (HTTP/1.1 pipelining): parts of a later request wait in a
/// queue while reads are held, so nothing is buffered without bound.
final class ProxyHandler: ChannelDuplexHandler, TransferSink {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// One request/response exchange on this connection.
    final class Exchange {
        let requestID: String
        let isHead: Bool
        var service: String?
        var transfer: Transfer?
        var keepAlive: Bool
        var requestEnded = false
        var responseStarted = false
        var responseComplete = false
        /// The answer is already out (a local error): remaining body parts are dropped.
        var discardBody = false
        var bodyBytes: Int64 = 0
        /// The head announced a body (Content-Length above 0 or chunked).
        var expectsBody = false

        init(requestID: String, isHead: Bool, keepAlive: Bool) {
            self.requestID = requestID
            self.isHead = isHead
            self.keepAlive = keepAlive
        }
    }

    private enum Queued {
        case part(HTTPServerRequestPart)
        case error(any Error)
    }

    private let context: ProxyContext
    private let connectionGuard: ConnectionGuard
    private var handlerContext: ChannelHandlerContext?
    private var exchange: Exchange?
    private var queue = CircularBuffer<Queued>()
    private var readPending = false
    private var uploadBlocked = false
    private var closing = false
    private var random = FastRandom()
    private var clientAddress: String?
    private var inputClosed = false

    init(context: ProxyContext, connectionGuard: ConnectionGuard) {
        self.context = context
        self.connectionGuard = connectionGuard
    }

    // === impl ChannelHandler ===

    func handlerAdded(context: ChannelHandlerContext) {
        self.handlerContext = context
        self.clientAddress = context.channel.remoteAddress?.ipAddress
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.exchange?.transfer?.cancel()
        self.exchange = nil
        self.queue.removeAll()
        self.handlerContext = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = self.unwrapInboundIn(data)
        if self.isWaitingForResponse || !self.queue.isEmpty {
            self.queue.append(.part(part))
            return
        }
        self.handle(part, context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.isWaitingForResponse || !self.queue.isEmpty {
            self.queue.append(.error(error))
            return
        }
        self.handleError(error, context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The client half-closed: answer what it sent, then close (RFC 9112 §9.6).
            self.inputClosed = true
            if self.exchange == nil && self.queue.isEmpty { context.close(promise: nil) }
            return
        }
        if event is HeaderReadTimeoutEvent {
            guard self.exchange == nil else { return }
            let error = OutriggerError(
                .requestHeaderTimeout, "the request head did not arrive within header_read_timeout")
            self.writeLocalAndClose(error, requestID: nil, context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.exchange?.transfer?.clientWritabilityChanged(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if self.mayRead {
            context.read()
        } else {
            self.readPending = true
        }
    }

    // === impl ProxyHandler: request side ===

    /// The current request is fully read and its response is still being produced.
    private var isWaitingForResponse: Bool {
        guard let exchange = self.exchange else { return false }
        return exchange.requestEnded && !exchange.responseComplete
    }

    /// Reads go on while a response is pending (so a client's close is seen and no epoll re-registration is paid
    /// per request); only a client that pipelines more than `maxQueuedParts` parts ahead is held.
    private var mayRead: Bool {
        !self.closing && !self.uploadBlocked && self.queue.count < Self.maxQueuedParts
    }

    static let maxQueuedParts = 64

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if self.readPending && self.mayRead {
            self.readPending = false
            context.read()
        }
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            self.start(head, context: context)
        case .body(let buffer):
            self.receiveBody(buffer, context: context)
        case .end:
            guard let exchange = self.exchange else { return }
            exchange.requestEnded = true
            if !exchange.discardBody { exchange.transfer?.endBody() }
            if exchange.responseComplete { self.finishExchange(exchange, context: context) }
        }
    }

    private func handleError(_ error: any Error, context: ChannelHandlerContext) {
        if let exchange = self.exchange, exchange.responseStarted {
            context.close(promise: nil)
            return
        }
        self.exchange?.transfer?.cancel()
        let outrigger: OutriggerError
        if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
            outrigger = OutriggerError(
                .requestHeaderTooLarge,
                "the request head exceeds limits.max_request_header_bytes (\(self.context.limits.maxRequestHeaderBytes))"
            )
        } else {
            outrigger = OutriggerError(.badRequest, "malformed HTTP request: \(error)")
        }
        self.writeLocalAndClose(outrigger, requestID: self.exchange?.requestID, context: context)
    }

    private func start(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        self.connectionGuard.headReceived()
        let requestID: String
        let kept: Bool
        if let given = head.headers.first(name: "x-request-id"), RequestID.isSane(given) {
            requestID = given
            kept = true
        } else {
            requestID = RequestID.generate(using: &self.random)
            kept = false
        }
        let exchange = Exchange(requestID: requestID, isHead: head.method == .HEAD, keepAlive: head.isKeepAlive)
        self.exchange = exchange

        if head.method == .CONNECT {
            // Outrigger is a reverse proxy for the registry's services, never a tunnel (SPEC §3).
            let error = OutriggerError(.badRequest, "CONNECT is not supported: Outrigger is not a forward proxy")
            exchange.keepAlive = false  // the parser treats what follows CONNECT as tunnel bytes
            self.respondLocal(error, exchange: exchange, context: context)
            return
        }
        let body: UpstreamRequest.Body
        switch Self.bodyFraming(head.headers) {
        case .failure(let error):
            self.respondLocal(error, exchange: exchange, context: context)
            return
        case .success(let framing):
            body = framing
            exchange.expectsBody = framing != .none && framing != .length(0)
        }
        let limit = self.context.limits.maxRequestBodyBytes
        if limit > 0, case .length(let length) = body, length > limit {
            let error = OutriggerError(
                .requestBodyTooLarge,
                "the request body of \(length) bytes exceeds limits.max_request_body_bytes (\(limit))")
            self.respondLocal(error, exchange: exchange, context: context)
            return
        }

        let state = self.context.state()
        let match: Router.Match
        switch state.router.route(target: head.uri, hostHeader: head.headers.first(name: "host")) {
        case .failure(let error):
            self.respondLocal(error, exchange: exchange, context: context)
            return
        case .success(let found):
            match = found
        }
        let service = match.service
        exchange.service = service.name
        guard let endpoint = service.nextEndpoint() else {
            let error = OutriggerError(.noEndpoints, "the service has no usable endpoint", service: service.name)
            self.respondLocal(error, exchange: exchange, context: context)
            return
        }

        if body != .none, head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
            // RFC 9110 §10.1.1: we read the body ourselves and stream it on, so the client may send it now.
            var interim = context.channel.allocator.buffer(capacity: 32)
            interim.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            context.writeAndFlush(self.wrapOutboundOut(interim), promise: nil)
        }

        let policy = service.config.policy
        let headers = RequestHeaderRules.curlHeaders(
            .init(
                headers: head.headers, clientAddress: self.clientAddress, requestID: requestID, requestIDWasKept: kept))
        let request = UpstreamRequest(
            baseURL: endpoint.curlBaseURL,
            target: match.target,
            method: head.method.rawValue,
            headers: headers,
            body: body,
            unixSocketPath: endpoint.socketPath,
            connectTimeoutMs: policy.connectTimeoutMs,
            requestTimeoutMs: policy.requestTimeoutMs,
            idleTimeoutMs: policy.idleTimeoutMs,
            tlsVerify: policy.tlsVerify,
            tlsCAFile: policy.tlsCAFile,
            framing: .init(
                isHead: exchange.isHead, clientIsHTTP11: head.version.minor >= 1 && head.version.major == 1,
                keepAlive: exchange.keepAlive, requestID: requestID))
        let worker = self.context.worker(for: context.eventLoop)
        let transfer = Transfer(
            request: request, eventLoop: context.eventLoop, worker: worker, service: service.name,
            endpoint: endpoint.original)
        transfer.sink = self
        if !context.channel.isWritable { transfer.clientWritabilityChanged(writable: false) }
        exchange.transfer = transfer
        worker.submit(.start(transfer))
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
        return .success(length == 0 ? .length(0) : .length(length))
    }

    private func receiveBody(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard let exchange = self.exchange, !exchange.discardBody else { return }
        exchange.bodyBytes += Int64(buffer.readableBytes)
        let limit = self.context.limits.maxRequestBodyBytes
        if limit > 0 && exchange.bodyBytes > limit {
            exchange.transfer?.cancel()
            exchange.transfer = nil
            if exchange.responseStarted {
                context.close(promise: nil)
                return
            }
            let error = OutriggerError(
                .requestBodyTooLarge, "the request body exceeds limits.max_request_body_bytes (\(limit))",
                service: exchange.service)
            self.writeLocalAndClose(error, requestID: exchange.requestID, context: context)
            return
        }
        guard let transfer = exchange.transfer else { return }
        if transfer.appendBody(buffer) { self.uploadBlocked = true }
    }

    // === impl ProxyHandler: response side (TransferSink) ===

    func transfer(_ transfer: Transfer, didProduce bytes: ByteBuffer) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        exchange.responseStarted = true
        let count = bytes.readableBytes
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        transfer.consumed(count)
        if !context.channel.isWritable { transfer.clientWritabilityChanged(writable: false) }
    }

    func transferWantsMoreBody(_ transfer: Transfer) {
        guard let context = self.handlerContext, self.exchange?.transfer === transfer else { return }
        self.uploadBlocked = false
        self.resumeReadingIfPossible(context: context)
    }

    func transferDidFinish(_ transfer: Transfer, status: Int, closeConnection: Bool) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        exchange.responseComplete = true
        self.uploadBlocked = false
        if closeConnection { exchange.keepAlive = false }
        if !exchange.requestEnded {
            // The upstream answered before the request body was complete: the rest cannot be skipped safely.
            exchange.keepAlive = false
        }
        self.finishExchange(exchange, context: context)
    }

    func transfer(_ transfer: Transfer, didFail error: OutriggerError, responseStarted: Bool) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        self.context.logger.warning(
            "upstream exchange failed",
            metadata: [
                "error.code": "\(error.code.rawValue)", "error.detail": "\(error.detail ?? "")",
                "service": "\(transfer.service)", "endpoint": "\(transfer.endpoint)",
                "request_id": "\(exchange.requestID)", "response_started": "\(responseStarted)",
            ])
        exchange.transfer = nil
        self.uploadBlocked = false
        if responseStarted {
            // SPEC §8: the response cannot be completed honestly; closing tells the client it is truncated.
            context.close(promise: nil)
            return
        }
        self.respondLocal(error, exchange: exchange, context: context)
    }

    // === impl ProxyHandler: completion ===

    /// Answers with Outrigger's own error; keeps the connection when the request is complete and allows it.
    private func respondLocal(_ error: OutriggerError, exchange: Exchange, context: ChannelHandlerContext) {
        exchange.transfer?.cancel()
        exchange.transfer = nil
        exchange.discardBody = true
        exchange.responseComplete = true
        if !exchange.requestEnded && exchange.expectsBody {
            // Unread body bytes follow; rather than read a possibly huge body to find the next request, close.
            exchange.keepAlive = false
        }
        let response = ErrorResponder.response(
            for: error, requestID: exchange.requestID, close: !exchange.keepAlive, isHead: exchange.isHead,
            allocator: context.channel.allocator)
        exchange.responseStarted = true
        context.write(self.wrapOutboundOut(response), promise: nil)
        if exchange.requestEnded || !exchange.keepAlive {
            self.finishExchange(exchange, context: context)
        } else {
            context.flush()
        }
    }

    private func writeLocalAndClose(_ error: OutriggerError, requestID: String?, context: ChannelHandlerContext) {
        self.closing = true
        self.exchange = nil
        self.queue.removeAll()
        let response = ErrorResponder.response(
            for: error, requestID: requestID ?? RequestID.generate(using: &self.random), close: true,
            allocator: context.channel.allocator)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(response)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    private func finishExchange(_ exchange: Exchange, context: ChannelHandlerContext) {
        self.exchange = nil
        if !exchange.keepAlive || (self.inputClosed && self.queue.isEmpty) {
            self.closing = true
            self.queue.removeAll()
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        context.flush()
        self.connectionGuard.exchangeFinished()
        // Serve pipelined requests that arrived meanwhile, in order.
        while let next = self.queue.first, !self.isWaitingForResponse, self.handlerContext != nil, !self.closing {
            self.queue.removeFirst()
            switch next {
            case .part(let part): self.handle(part, context: context)
            case .error(let error): self.handleError(error, context: context)
            }
        }
        self.resumeReadingIfPossible(context: context)
    }
}
