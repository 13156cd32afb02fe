import Logging
import NIOCore
import NIOHTTP1

// Tries, retries and the transfer's events (SPEC §5).
extension ProxyHandler {
    /// Starts one try: breaker admission, endpoint choice, per-try timeout, then hands it to the curl worker.
    func startTry(_ exchange: Exchange, avoid: Int?, context: ChannelHandlerContext) {
        guard let service = exchange.service else { return }
        let policy = service.config.policy
        let firstTry = exchange.tries == 0
        let index: Int
        let endpoint: Endpoint
        switch service.admitTry(firstTry: firstTry, avoid: avoid) {
        case .rejected(let retryAfter):
            if let last = exchange.lastError {
                // A retry refused by a breaker that just opened: the client gets the failure it would have got.
                self.respondLocal(last, exchange: exchange, context: context)
            } else {
                let error = OutriggerError(
                    .breakerOpen, "the circuit breaker of the service is open", service: service.name)
                self.respondLocal(error, exchange: exchange, context: context, retryAfter: retryAfter)
            }
            return
        case .noEndpoints:
            let error = OutriggerError(.noEndpoints, "the service has no usable endpoint", service: service.name)
            self.respondLocal(error, exchange: exchange, context: context)
            return
        case .admitted(let ticket, let chosen, let chosenEndpoint):
            exchange.ticket = ticket
            index = chosen
            endpoint = chosenEndpoint
        }
        exchange.endpointIndex = index
        exchange.endpointName = endpoint.original
        exchange.tries += 1
        if exchange.firstTryAt == nil { exchange.firstTryAt = .now() }

        var timeoutMs = policy.requestTimeoutMs
        if let deadline = exchange.deadlineMs {
            let remaining = deadline - service.clock.nowMs()
            guard remaining > 0 else {
                service.abandon(ticket: exchange.ticket!, endpoint: index)
                exchange.ticket = nil
                exchange.endpointIndex = nil
                let error = OutriggerError(
                    .upstreamTimeout, "the request timeout elapsed before the upstream answered", service: service.name)
                self.respondLocal(exchange.lastError ?? error, exchange: exchange, context: context)
                return
            }
            timeoutMs = remaining
        }
        // per_try_timeout bounds the wait for a response to start: once bytes flow to the client, no retry is
        // possible and only the overall request_timeout applies (a long download is not cut at per_try_timeout).
        let perTryMs = policy.retries.perTryTimeoutMs
        let perTryApplies = exchange.retryable && perTryMs > 0 && (timeoutMs == 0 || perTryMs < timeoutMs)
        let holdStatuses = self.mayRetryLater(exchange) ? service.retryStatuses : []

        let head = exchange.head
        let headers = RequestHeaderRules.curlHeaders(
            .init(
                headers: head.headers, clientAddress: self.clientAddress, requestID: exchange.requestID,
                trace: exchange.trace.map { (exchange.tracing, $0) }))
        let request = UpstreamRequest(
            baseURL: endpoint.curlBaseURL,
            target: exchange.target,
            method: head.method.rawValue,
            headers: headers,
            body: exchange.body,
            unixSocketPath: endpoint.socketPath,
            connectTimeoutMs: policy.connectTimeoutMs,
            requestTimeoutMs: timeoutMs,
            idleTimeoutMs: policy.idleTimeoutMs,
            tlsVerify: policy.tlsVerify,
            tlsCAFile: policy.tlsCAFile,
            framing: .init(
                isHead: exchange.isHead, clientIsHTTP11: head.version.major == 1 && head.version.minor >= 1,
                keepAlive: exchange.keepAlive, requestID: exchange.requestID),
            holdStatuses: holdStatuses)
        let worker = self.context.worker(for: context.eventLoop)
        let transfer = Transfer(
            request: request, eventLoop: context.eventLoop, worker: worker, service: service.name,
            endpoint: endpoint.original)
        transfer.sink = self
        if !context.channel.isWritable { transfer.clientWritabilityChanged(writable: false) }
        exchange.transfer = transfer
        worker.submit(.start(transfer))
        exchange.perTryDeadline = nil
        if perTryApplies {
            let deadline = NIODeadline.now() + .milliseconds(perTryMs)
            exchange.perTryDeadline = deadline
            self.armPerTryTimer(deadline, context: context)
        }
        if !firstTry, let replay = exchange.replay, replay.readableBytes > 0 {
            _ = transfer.appendBody(replay)
        }
        if !firstTry && exchange.requestEnded { transfer.endBody() }
    }

    /// Makes sure a check runs by `deadline`. One timer per connection, re-armed only when it fires early: a
    /// scheduled task per request costs more than the rest of the request's bookkeeping (bench/README.md).
    func armPerTryTimer(_ deadline: NIODeadline, context: ChannelHandlerContext) {
        if let scheduled = self.perTryTimerDeadline, scheduled <= deadline { return }
        self.perTryTimer?.cancel()
        self.perTryTimerDeadline = deadline
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.perTryTimer = context.eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.perTryTimerFired()
        }
    }

    /// The per-try check: a try still waiting for its response past `per_try_timeout` fails as a timeout
    /// (and may be retried); otherwise the timer is re-armed for the current try's deadline, if any.
    func perTryTimerFired() {
        self.perTryTimer = nil
        self.perTryTimerDeadline = nil
        guard let context = self.handlerContext, let exchange = self.exchange, let deadline = exchange.perTryDeadline,
            let transfer = exchange.transfer, !exchange.responseStarted
        else { return }
        guard NIODeadline.now() >= deadline else {
            self.armPerTryTimer(deadline, context: context)
            return
        }
        exchange.perTryDeadline = nil
        transfer.cancel()
        let perTryMs = exchange.service?.config.policy.retries.perTryTimeoutMs ?? 0
        let error = OutriggerError(
            .upstreamTimeout, "the upstream did not answer within per_try_timeout", service: exchange.service?.name,
            detail: "per_try_timeout=\(perTryMs)ms")
        self.transfer(transfer, didFail: error, responseStarted: false)
    }

    /// Whether a later failure of the current try could still be retried (so a retryable status is held back).
    func mayRetryLater(_ exchange: Exchange) -> Bool {
        guard let service = exchange.service, exchange.retryable else { return false }
        guard exchange.tries < service.config.policy.retries.attempts + 1 else { return false }
        return !exchange.expectsBody || exchange.replay != nil
    }

    /// Decides whether to retry after a failed try, and schedules it after a jittered backoff.
    func retryIfAllowed(_ exchange: Exchange, condition: RetryPolicy.Condition, context: ChannelHandlerContext) -> Bool
    {
        guard let service = exchange.service, !exchange.responseStarted, self.mayRetryLater(exchange) else {
            return false
        }
        let policy = service.config.policy.retries
        guard policy.retryOn.contains(condition) else { return false }
        let retry = exchange.tries  // 1 for the first retry
        let delay = service.backoffMs(retry: retry)
        if let deadline = exchange.deadlineMs, service.clock.nowMs() + delay >= deadline { return false }
        guard service.takeRetry() else {
            self.context.logger.info(
                "retry budget exhausted",
                metadata: ["service": "\(service.name)", "request_id": "\(exchange.requestID)"])
            return false
        }
        let avoid = exchange.endpointIndex
        exchange.endpointIndex = nil
        exchange.ticket = nil
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(delay)) {
            let handler = loopBound.value
            guard let context = handler.handlerContext, handler.exchange === exchange else { return }
            handler.startTry(exchange, avoid: avoid, context: context)
        }
        return true
    }

    static func condition(for code: OutriggerError.Code) -> RetryPolicy.Condition? {
        switch code {
        case .upstreamConnectFailed, .upstreamConnectTimeout: return .connectFailure
        case .upstreamReset, .upstreamProtocolError: return .reset
        case .upstreamTimeout: return .timeout
        default: return nil
        }
    }

    /// The status code of a response head the curl worker built (`HTTP/1.1 NNN ...`).
    static func status(of head: ByteBuffer) -> Int {
        var status = 0
        for offset in 9..<12 {
            guard let digit = head.getInteger(at: head.readerIndex + offset, as: UInt8.self) else { return 0 }
            status = status * 10 + Int(digit &- 48)
        }
        return status
    }

    // === impl TransferSink ===

    func transfer(_ transfer: Transfer, didProduce bytes: ByteBuffer) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        if !exchange.responseStarted {
            exchange.responseStarted = true
            exchange.status = Self.status(of: bytes)
        }
        let count = bytes.readableBytes
        exchange.bytesOut += Int64(count)
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        transfer.consumed(count)
        if !context.channel.isWritable { transfer.clientWritabilityChanged(writable: false) }
    }

    func transferWantsMoreBody(_ transfer: Transfer) {
        guard let context = self.handlerContext, self.exchange?.transfer === transfer else { return }
        self.uploadBlocked = false
        self.resumeReadingIfPossible(context: context)
    }

    func transferDidFinish(_ transfer: Transfer, status: Int, closeConnection: Bool, held: ByteBuffer?) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        exchange.transfer = nil
        exchange.upstreamDoneAt = .now()
        self.uploadBlocked = false
        if let service = exchange.service, let ticket = exchange.ticket, let index = exchange.endpointIndex {
            service.finish(
                ticket: ticket, endpoint: index, failureCode: status >= 500 ? "http_\(status)" : nil,
                connectFailed: false)
            exchange.ticket = nil
        }
        if let held {
            // A retryable status whose bytes were held back: retry it, or pass the upstream's answer on.
            transfer.consumed(held.readableBytes)
            if self.retryIfAllowed(exchange, condition: .status(status), context: context) { return }
            exchange.responseStarted = true
            exchange.bytesOut += Int64(held.readableBytes)
            context.write(self.wrapOutboundOut(held), promise: nil)
        }
        exchange.status = status
        exchange.responseComplete = true
        exchange.service?.counters.countResponse(status: status)
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
        exchange.transfer = nil
        exchange.upstreamDoneAt = .now()
        self.uploadBlocked = false
        let connectFailed = error.code == .upstreamConnectFailed || error.code == .upstreamConnectTimeout
        if let service = exchange.service, let ticket = exchange.ticket, let index = exchange.endpointIndex {
            service.finish(
                ticket: ticket, endpoint: index, failureCode: error.code.rawValue, connectFailed: connectFailed)
            exchange.ticket = nil
        }
        self.context.logger.warning(
            "upstream exchange failed",
            metadata: [
                "error.code": "\(error.code.rawValue)", "error.detail": "\(error.detail ?? "")",
                "service": "\(transfer.service)", "endpoint": "\(transfer.endpoint)",
                "request_id": "\(exchange.requestID)", "try": "\(exchange.tries)",
                "response_started": "\(responseStarted)",
            ])
        if responseStarted || exchange.responseStarted {
            // SPEC §8: the response cannot be completed honestly; closing tells the client it is truncated.
            exchange.service?.counters.countError(error.code)
            self.logAccess(exchange, status: exchange.status, error: error.code.rawValue)
            self.releaseSlot(exchange)
            self.exchange = nil
            self.closing = true
            context.close(promise: nil)
            return
        }
        exchange.lastError = error
        if let condition = Self.condition(for: error.code),
            self.retryIfAllowed(exchange, condition: condition, context: context)
        {
            return
        }
        self.respondLocal(error, exchange: exchange, context: context)
    }
}
