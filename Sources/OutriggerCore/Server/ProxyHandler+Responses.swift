import NIOCore
import NIOHTTP1

// Local answers and the end of an exchange.
extension ProxyHandler {
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
        self.logAccess(exchange, status: exchange.status, error: exchange.errorCode?.rawValue)
        self.exchange = nil
        guard self.machine.exchangeFinished(draining: self.context.draining.load(ordering: .relaxed)) else {
            let channel = context.channel
            context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        context.flush()
        self.connectionGuard.exchangeFinished()
        // Serve pipelined requests that arrived meanwhile, in order.
        while self.handlerContext != nil, let next = self.machine.nextQueued() {
            self.handle(next, context: context)
        }
        self.resumeReadingIfPossible(context: context)
    }

    /// Writes the access log line of an exchange (SPEC §6), or of a request that never got a parsed head.
    func logAccess(_ exchange: Exchange?, status: Int, error: String?, requestID: String? = nil) {
        self.context.requests.wrappingIncrement(ordering: .relaxed)
        let now = self.handlerContext?.eventLoop.now ?? .now()
        if let exchange, let service = exchange.service {
            service.counters.latency.record(milliseconds: Double((now - exchange.startedAt).nanoseconds) / 1e6)
            if let grpcStatus = exchange.grpcStatus { service.counters.countGRPC(status: grpcStatus) }
        }
        if let exporter = self.context.spanExporter, let exchange, let trace = exchange.trace, trace.sampled {
            // Built here, encoded and sent by the exporter's thread; the queue never blocks (SPEC §13).
            exporter.queue.push(SpanBuilder.span(for: exchange, trace: trace, status: status, error: error))
        }
        guard let log = self.context.accessLog else { return }
        var record = AccessRecord(
            time: exchange?.startedWall ?? AccessRecord.now(), client: self.clientAddress, method: "", path: "",
            service: nil, endpoint: nil, status: status, bytesIn: 0, bytesOut: 0, durationMs: 0, upstreamMs: nil,
            attempts: 0, error: error, requestID: requestID ?? "", traceID: nil, spanID: nil)
        if let exchange {
            record.method = exchange.head.method.rawValue
            record.path = exchange.head.uri
            record.grpcStatus = exchange.grpcStatus
            let version = exchange.head.version
            record.protocolVersion = version.major >= 2 ? "HTTP/2" : version.minor >= 1 ? "HTTP/1.1" : "HTTP/1.0"
            record.service = exchange.service?.name
            record.endpoint = exchange.endpointName
            record.bytesIn = exchange.bodyBytes
            record.bytesOut = exchange.bytesOut
            record.durationMs = Double((now - exchange.startedAt).nanoseconds) / 1e6
            if let first = exchange.firstTryAt {
                record.upstreamMs = Double(((exchange.upstreamDoneAt ?? now) - first).nanoseconds) / 1e6
            }
            record.attempts = exchange.tries
            if !exchange.faults.isEmpty { record.fault = exchange.faults.map(\.rawValue).joined(separator: ",") }
            record.requestID = exchange.requestID
            record.traceID = exchange.trace?.traceID
            record.spanID = exchange.trace?.spanID
        }
        log.log(record.json())
    }
}
