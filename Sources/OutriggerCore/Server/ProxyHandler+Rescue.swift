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
            _ = self.machine.answerLocally(close: true)
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
        let answer = self.machine.answerLocally(close: close)
        if answer == .truncate {
            // SPEC §8: truncated, not completed; the client sees the connection end.
            self.abandon(exchange)
            self.logAccess(exchange, status: exchange.status, error: error.code.rawValue)
            self.exchange = nil
            context.close(promise: nil)
            return
        }
        self.abandon(exchange)
        let keepAlive = answer != .writeThenClose && self.machine.exchange?.keepAlive == true
        let response: ByteBuffer
        if exchange.isGRPC {
            // A gRPC client reads its status from grpc-status, not from HTTP's (SPEC §10).
            response = ErrorResponder.grpcResponse(
                for: error, requestID: exchange.requestID, close: !keepAlive, fault: exchange.tryFault,
                allocator: context.channel.allocator)
            exchange.status = 200
            exchange.grpcStatus = error.code.grpcStatus
        } else {
            response = ErrorResponder.response(
                for: error, requestID: exchange.requestID, close: !keepAlive, isHead: exchange.isHead,
                extraHeaders: (retryAfter.map { [("retry-after", String($0))] } ?? [])
                    + (exchange.tryFault.map { [("x-outrigger-fault", $0)] } ?? []),
                allocator: context.channel.allocator)
            exchange.status = error.code.status
        }
        exchange.service?.counters.countResponse(status: exchange.status)
        exchange.bytesOut += Int64(response.readableBytes)
        switch answer {
        case .writeThenClose:
            self.logAccess(exchange, status: exchange.status, error: error.code.rawValue)
            self.exchange = nil
            self.closeAfter(response, context: context)
        case .writeThenFinish:
            context.write(self.wrapOutboundOut(response), promise: nil)
            self.finishExchange(exchange, context: context)
        case .writeThenDrainBody, .truncate:
            context.writeAndFlush(self.wrapOutboundOut(response), promise: nil)
        }
    }

    /// Writes `response`, then closes the connection; nothing queued behind it is served.
    private func closeAfter(_ response: ByteBuffer, context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(response)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
