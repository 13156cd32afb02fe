import NIOCore
import NIOHTTP1

// Local answers and the end of an exchange.
extension ProxyHandler {
    /// Answers with Outrigger's own error; keeps the connection when the request is complete and allows it.
    func respondLocal(
        _ error: OutriggerError, exchange: Exchange, context: ChannelHandlerContext, retryAfter: Int? = nil
    ) {
        exchange.transfer?.cancel()
        exchange.transfer = nil
        exchange.discardBody = true
        exchange.responseComplete = true
        if !exchange.requestEnded && exchange.expectsBody {
            // Unread body bytes follow; rather than read a possibly huge body to find the next request, close.
            exchange.keepAlive = false
        }
        self.count(error, exchange: exchange)
        let response = ErrorResponder.response(
            for: error, requestID: exchange.requestID, close: !exchange.keepAlive, isHead: exchange.isHead,
            extraHeaders: retryAfter.map { [("retry-after", String($0))] } ?? [],
            allocator: context.channel.allocator)
        exchange.responseStarted = true
        exchange.status = error.code.status
        exchange.errorCode = error.code.rawValue
        exchange.bytesOut += Int64(response.readableBytes)
        context.write(self.wrapOutboundOut(response), promise: nil)
        if exchange.requestEnded || !exchange.keepAlive {
            self.finishExchange(exchange, context: context)
        } else {
            context.flush()
        }
    }

    /// Counts a local error for the service it was for.
    func count(_ error: OutriggerError, exchange: Exchange) {
        guard let service = exchange.service else { return }
        service.counters.countError(error.code)
        service.counters.countResponse(status: error.code.status)
    }

    func writeLocalAndClose(_ error: OutriggerError, requestID: String?, context: ChannelHandlerContext) {
        self.closing = true
        let requestID = requestID ?? RequestID.generate(using: &self.random)
        let response = ErrorResponder.response(
            for: error, requestID: requestID, close: true, allocator: context.channel.allocator)
        if let exchange = self.exchange {
            self.releaseSlot(exchange)
            exchange.bytesOut += Int64(response.readableBytes)
            self.logAccess(exchange, status: error.code.status, error: error.code.rawValue)
        } else {
            self.logAccess(nil, status: error.code.status, error: error.code.rawValue, requestID: requestID)
        }
        self.exchange = nil
        self.queue.removeAll()
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(response)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// The exchange ends without a result (client gone, request refused mid-body): nothing is counted against the
    /// upstream, the breaker's probe slot and the concurrency slot are given back.
    func abandon(_ exchange: Exchange) {
        exchange.transfer?.cancel()
        exchange.transfer = nil
        if let service = exchange.service, let ticket = exchange.ticket {
            service.abandon(ticket: ticket, endpoint: exchange.endpointIndex)
            exchange.ticket = nil
            exchange.endpointIndex = nil
        }
        self.releaseSlot(exchange)
    }

    func releaseSlot(_ exchange: Exchange) {
        if exchange.holdsSlot {
            exchange.holdsSlot = false
            exchange.service?.releaseSlot()
        }
    }

    func finishExchange(_ exchange: Exchange, context: ChannelHandlerContext) {
        self.releaseSlot(exchange)
        self.logAccess(exchange, status: exchange.status, error: exchange.errorCode)
        self.exchange = nil
        if !exchange.keepAlive || self.context.draining.load(ordering: .relaxed) {
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

    /// Writes the access log line of an exchange (SPEC §6), or of a request that never got a parsed head.
    func logAccess(_ exchange: Exchange?, status: Int, error: String?, requestID: String? = nil) {
        self.context.requests.wrappingIncrement(ordering: .relaxed)
        let now = NIODeadline.now()
        if let exchange, let service = exchange.service {
            service.counters.latency.record(milliseconds: Double((now - exchange.startedAt).nanoseconds) / 1e6)
        }
        guard let log = self.context.accessLog else { return }
        var record = AccessRecord(
            time: exchange?.startedWall ?? AccessRecord.now(), client: self.clientAddress, method: "", path: "",
            service: nil, endpoint: nil, status: status, bytesIn: 0, bytesOut: 0, durationMs: 0, upstreamMs: nil,
            attempts: 0, error: error, requestID: requestID ?? "", traceID: nil, spanID: nil)
        if let exchange {
            record.method = exchange.head.method.rawValue
            record.path = exchange.head.uri
            record.service = exchange.service?.name
            record.endpoint = exchange.endpointName
            record.bytesIn = exchange.bodyBytes
            record.bytesOut = exchange.bytesOut
            record.durationMs = Double((now - exchange.startedAt).nanoseconds) / 1e6
            if let first = exchange.firstTryAt {
                record.upstreamMs = Double(((exchange.upstreamDoneAt ?? now) - first).nanoseconds) / 1e6
            }
            record.attempts = exchange.tries
            record.requestID = exchange.requestID
            record.traceID = exchange.trace?.traceID
            record.spanID = exchange.trace?.spanID
        }
        log.log(record.json())
    }
}
