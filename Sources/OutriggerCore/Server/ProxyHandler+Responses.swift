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
        if let exchange = self.exchange { self.releaseSlot(exchange) }
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
        self.exchange = nil
        if !exchange.keepAlive {
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
