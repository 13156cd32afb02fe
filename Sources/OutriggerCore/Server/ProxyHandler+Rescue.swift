import Logging
import NIOCore

// The one funnel for Outrigger's own errors (as linkerd2-proxy's `ServerRescue`).
extension ProxyHandler {
    /// Ends the current exchange (or a connection with no parsed request) with `error`: counts it for its service,
    /// logs it, fills the access-log fields, and answers it with the status, JSON body and `x-outrigger-error` of
    /// its code (SPEC §8). When response bytes already went to the client, the response cannot be completed
    /// honestly: the connection is closed instead. `close` ends the connection after the answer (malformed input,
    /// timeouts while reading a head, a body past its limit).
    func rescue(
        _ error: OutriggerError, context: ChannelHandlerContext, retryAfter: Int? = nil, close: Bool = false
    ) {
        guard let exchange = self.exchange else {
            // No request was parsed: nothing to count for a service, one access-log line for the answer.
            self.context.logger.debug(
                "request refused", metadata: ["error.code": "\(error.code.rawValue)", "message": "\(error.message)"])
            let requestID = RequestID.generate(using: &self.random)
            let response = ErrorResponder.response(
                for: error, requestID: requestID, close: true, allocator: context.channel.allocator)
            self.logAccess(nil, status: error.code.status, error: error.code.rawValue, requestID: requestID)
            self.closeAfter(response, context: context)
            return
        }
        exchange.errorCode = error.code
        if !error.code.isUpstreamFailure {
            self.context.logger.debug(
                "request answered with an error",
                metadata: [
                    "error.code": "\(error.code.rawValue)", "message": "\(error.message)",
                    "service": "\(exchange.service?.name ?? "")", "request_id": "\(exchange.requestID)",
                ])
        }
        exchange.service?.counters.countError(error.code)
        if exchange.responseStarted {
            // SPEC §8: truncated, not completed; the client sees the connection end.
            self.abandon(exchange)
            self.logAccess(exchange, status: exchange.status, error: error.code.rawValue)
            self.exchange = nil
            self.closing = true
            self.queue.removeAll()
            context.close(promise: nil)
            return
        }
        exchange.service?.counters.countResponse(status: error.code.status)
        self.abandon(exchange)
        exchange.discardBody = true
        exchange.responseComplete = true
        if close || (!exchange.requestEnded && exchange.expectsBody) {
            // Unread body bytes follow; rather than read a possibly huge body to find the next request, close.
            exchange.keepAlive = false
        }
        let response = ErrorResponder.response(
            for: error, requestID: exchange.requestID, close: !exchange.keepAlive, isHead: exchange.isHead,
            extraHeaders: retryAfter.map { [("retry-after", String($0))] } ?? [],
            allocator: context.channel.allocator)
        exchange.responseStarted = true
        exchange.status = error.code.status
        exchange.bytesOut += Int64(response.readableBytes)
        if close {
            self.logAccess(exchange, status: exchange.status, error: error.code.rawValue)
            self.exchange = nil
            self.closeAfter(response, context: context)
            return
        }
        context.write(self.wrapOutboundOut(response), promise: nil)
        if exchange.requestEnded || !exchange.keepAlive {
            self.finishExchange(exchange, context: context)
        } else {
            context.flush()
        }
    }

    /// Writes `response`, then closes the connection; nothing queued behind it is served.
    private func closeAfter(_ response: ByteBuffer, context: ChannelHandlerContext) {
        self.closing = true
        self.queue.removeAll()
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(response)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
