import CCurl
import Logging
import NIOCore
import NIOHTTP1

// Tries, retries and the transfer's events (SPEC §5). Every retry decision is the exchange's `RetryPlan`'s; every
// error ends in `rescue` (ProxyHandler+Rescue.swift).
extension ProxyHandler {
    /// Starts one try: breaker admission, endpoint choice, per-try timeout, then hands it to the curl worker.
    func startTry(_ exchange: Exchange, avoid: Int?, context: ChannelHandlerContext) {
        guard let service = exchange.service, var plan = exchange.retry else { return }
        let policy = service.config.policy
        let firstTry = plan.triesStarted == 0
        guard
            let (index, endpoint) = self.admit(
                exchange, service: service, firstTry: firstTry, avoid: avoid, context: context)
        else { return }

        var timeoutMs = policy.requestTimeoutMs
        if let deadline = exchange.deadlineMs {
            let remaining = deadline - service.clock.nowMs()
            guard remaining > 0 else {
                service.abandon(ticket: exchange.ticket!, endpoint: index)
                exchange.ticket = nil
                let error = OutriggerError(
                    .upstreamTimeout, "the request timeout elapsed before the upstream answered", service: service.name)
                self.rescue(exchange.lastError ?? error, context: context)
                return
            }
            timeoutMs = remaining
        }
        plan.tryStarted(endpoint: index)
        exchange.retry = plan
        exchange.endpointIndex = index
        exchange.endpointName = endpoint.original
        exchange.endpointAddress = (endpoint.host, endpoint.port)
        if exchange.firstTryAt == nil { exchange.firstTryAt = context.eventLoop.now }
        // per_try_timeout bounds the wait for a response to start: once bytes flow to the client, no retry is
        // possible and only the overall request_timeout applies (a long download is not cut at per_try_timeout).
        let perTryMs = policy.retries.perTryTimeoutMs
        let perTryApplies = perTryMs > 0 && (timeoutMs == 0 || perTryMs < timeoutMs)

        let idleTimeoutNs = policy.idleTimeoutMs * 1_000_000
        var framing = UpstreamRequest.ClientFraming(
            isHead: exchange.isHead,
            clientIsHTTP11: exchange.head.version.major >= 2 || exchange.head.version.minor >= 1,
            keepAlive: self.machine.exchange?.keepAlive ?? false, requestID: exchange.requestID)
        let fault = self.decideFault(exchange, service: service)
        let transfer: any UpstreamCall
        if fault.isNone {
            transfer = self.startUpstreamCall(
                exchange, endpoint: endpoint, plan: plan, framing: framing, timeoutMs: timeoutMs,
                idleTimeoutNs: idleTimeoutNs, context: context)
        } else {
            framing.fault = fault.headerValue
            let faulted = FaultedTry(
                decision: fault, endpoint: endpoint.original, eventLoop: context.eventLoop, service: service.name,
                framing: framing, holdStatuses: plan.holdStatuses)
            faulted.sink = self
            if fault.outcome == .proceed {
                // After the delay the try goes on with what is left of its timeout.
                let remainingMs = timeoutMs == 0 ? 0 : max(timeoutMs - fault.delayMs, 1)
                faulted.proceed = { [unowned self] in
                    guard let context = self.handlerContext, self.exchange === exchange,
                        exchange.transfer === faulted
                    else { return nil }
                    return self.startUpstreamCall(
                        exchange, endpoint: endpoint, plan: plan, framing: framing, timeoutMs: remainingMs,
                        idleTimeoutNs: idleTimeoutNs, context: context)
                }
            }
            exchange.transfer = faulted
            faulted.start(requestTimeoutMs: timeoutMs)
            transfer = faulted
        }
        self.machine.tryStarted(
            perTryMs: perTryApplies ? perTryMs : 0, idleTimeoutNs: idleTimeoutNs,
            lastActivityNs: transfer.lastActivityNs, now: context.eventLoop.now)
        self.syncTimer(context: context)
        if !firstTry, let replay = exchange.replay, replay.readableBytes > 0 {
            _ = transfer.appendBody(replay)
        }
        if let early = exchange.earlyBody {
            exchange.earlyBody = nil
            if early.readableBytes > 0 { _ = transfer.appendBody(early) }
            if self.machine.exchange?.requestEnded == true { transfer.endBody() }
        } else if !firstTry && self.machine.exchange?.requestEnded == true {
            transfer.endBody()
        }
    }

    /// Hands a try to its upstream: Outrigger's own h2c connections, or the event loop's curl worker. The call
    /// becomes the exchange's current one.
    private func startUpstreamCall(
        _ exchange: Exchange, endpoint: Endpoint, plan: RetryPlan, framing: UpstreamRequest.ClientFraming,
        timeoutMs: Int64, idleTimeoutNs: Int64, context: ChannelHandlerContext
    ) -> any UpstreamCall {
        guard let service = exchange.service else { preconditionFailure("a try without a service") }
        let policy = service.config.policy
        let pool = self.context.h2cPool(for: context.eventLoop)
        let curl = {
            self.startCurlTransfer(
                exchange, endpoint: endpoint, policy: policy, plan: plan, framing: framing, timeoutMs: timeoutMs,
                idleTimeoutNs: idleTimeoutNs, context: context)
        }
        // HTTP/2 to upstreams runs on Outrigger's own connections (docs/http2.md): libcurl 7.88's HTTP/2 loses
        // calls, by prior knowledge and now and then over TLS too. HTTP/1.1 stays with libcurl.
        var tls: H2CConnection.TLS?
        switch (policy.upstreamProtocol, endpoint.scheme) {
        case (.http1, _), (.auto, .http), (.auto, .unix):
            return curl()
        case (.auto, .https) where pool.prefersHTTP1(endpoint):
            return curl()
        case (.h2c, .http), (.h2c, .unix):
            tls = nil
        case (.h2c, .https), (.auto, .https):
            let requireH2 = policy.upstreamProtocol == .h2c
            guard
                let context = try? self.context.upstreamTLSContext(
                    for: policy, alpn: requireH2 ? ["h2"] : ["h2", "http/1.1"])
            else { return curl() }  // files libcurl will report on in its own words
            let name = policy.tlsServerName ?? endpoint.host
            let isAddress = name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }
            tls = H2CConnection.TLS(context: context, serverName: isAddress ? nil : name, requireH2: requireH2)
        }
        let request = H2CRequest(
            method: exchange.head.method.rawValue, target: exchange.target, endpoint: endpoint,
            rules: self.headerRulesInput(exchange, upstreamIsHTTP2: true), body: exchange.body, framing: framing,
            holdStatuses: plan.holdStatuses, holdsGRPCUnavailable: plan.holdsGRPCUnavailable,
            scheme: endpoint.scheme == .https ? "https" : "http")
        let call = H2CCall(
            request: request, eventLoop: context.eventLoop, service: service.name, endpoint: endpoint.original,
            measuresIdle: idleTimeoutNs > 0)
        call.sink = self
        call.fallback = { [unowned self] in
            guard self.exchange === exchange, exchange.transfer === call else { return nil }
            return curl()
        }
        if !context.channel.isWritable { call.clientWritabilityChanged(writable: false) }
        exchange.transfer = call
        call.start(
            pool: pool, endpoint: endpoint, connectTimeoutMs: policy.connectTimeoutMs, requestTimeoutMs: timeoutMs,
            tls: tls)
        return call
    }

    /// The faults acting on this try (SPEC §11): the run-time ones of the service, else the registry's, plus what
    /// the request asks for where that is allowed. Counted here, once per try.
    private func decideFault(_ exchange: Exchange, service: ServiceRuntime) -> FaultDecision {
        let faults =
            self.context.faults.policy(for: service.name, nowMs: service.clock.nowMs()) ?? service.config.policy.faults
        guard !faults.isInactive else {
            exchange.tryFault = nil
            return FaultDecision()
        }
        let headers = exchange.head.headers
        let requested =
            faults.allowRequestHeaders
            ? FaultDecision.requested(
                delayHeader: headers.first(name: "x-outrigger-fault-delay-ms"),
                abortHeader: headers.first(name: "x-outrigger-fault-abort")) : nil
        let decision = FaultDecision.decide(faults, requested: requested) {
            Double(self.random.next() >> 11) * (100.0 / 9_007_199_254_740_992.0)
        }
        exchange.tryFault = decision.isNone ? nil : decision.headerValue
        for kind in decision.kinds {
            service.counters.countFault(kind)
            if !exchange.faults.contains(kind) { exchange.faults.append(kind) }
        }
        return decision
    }

    /// Hands a try to the event loop's curl worker.
    private func startCurlTransfer(
        _ exchange: Exchange, endpoint: Endpoint, policy: ServicePolicy, plan: RetryPlan,
        framing: UpstreamRequest.ClientFraming, timeoutMs: Int64, idleTimeoutNs: Int64,
        context: ChannelHandlerContext
    ) -> Transfer {
        let httpVersion: Int
        switch policy.upstreamProtocol {
        case .http1: httpVersion = Int(CURL_HTTP_VERSION_1_1)
        case .h2c: httpVersion = Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        case .auto:
            httpVersion = Int(endpoint.scheme == .https ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1)
        }
        let headers = RequestHeaderRules.curlHeaders(
            self.headerRulesInput(exchange, upstreamIsHTTP2: httpVersion != Int(CURL_HTTP_VERSION_1_1)))
        let target = endpoint.curlTarget(serverName: policy.tlsServerName)
        var request = UpstreamRequest(
            baseURL: target.baseURL,
            target: exchange.target,
            method: exchange.head.method.rawValue,
            headers: headers,
            body: exchange.body,
            unixSocketPath: endpoint.socketPath,
            connectTimeoutMs: policy.connectTimeoutMs,
            requestTimeoutMs: timeoutMs,
            tlsVerify: policy.tlsVerify,
            tlsCAFile: policy.tlsCAFile,
            framing: framing,
            holdStatuses: plan.holdStatuses)
        request.holdsGRPCUnavailable = plan.holdsGRPCUnavailable
        request.httpVersion = httpVersion
        if endpoint.scheme == .https {
            request.tlsCertFile = policy.tlsCertFile
            request.tlsKeyFile = policy.tlsKeyFile
            request.connectTo = target.connectTo
        }
        let worker = self.context.worker(for: context.eventLoop)
        let transfer = Transfer(
            request: request, eventLoop: context.eventLoop, worker: worker, service: exchange.service?.name ?? "",
            endpoint: endpoint.original, measuresIdle: idleTimeoutNs > 0)
        transfer.sink = self
        if !context.channel.isWritable { transfer.clientWritabilityChanged(writable: false) }
        exchange.transfer = transfer
        worker.submit(.start(transfer))
        return transfer
    }

    /// Breaker admission and the endpoint of a try; when refused, the client is answered here and nil returned.
    func admit(
        _ exchange: Exchange, service: ServiceRuntime, firstTry: Bool, avoid: Int?, context: ChannelHandlerContext
    ) -> (index: Int, endpoint: Endpoint)? {
        switch service.admitTry(firstTry: firstTry, avoid: avoid) {
        case .rejected(let retryAfter):
            if let last = exchange.lastError {
                // A retry refused by a breaker that just opened: the client gets the failure it would have got.
                self.rescue(last, context: context)
            } else {
                let error = OutriggerError(
                    .breakerOpen, "the circuit breaker of the service is open", service: service.name)
                self.rescue(error, context: context, retryAfter: retryAfter)
            }
            return nil
        case .noEndpoints:
            let error = OutriggerError(.noEndpoints, "the service has no usable endpoint", service: service.name)
            self.rescue(error, context: context)
            return nil
        case .admitted(let ticket, let index, let endpoint):
            exchange.ticket = ticket
            return (index, endpoint)
        }
    }

    /// A failed try, counted everywhere it counts: the breaker and the endpoint's health (upstream failures only),
    /// the service's failed tries, and the failure log.
    func countFailedTry(_ exchange: Exchange, _ error: OutriggerError, endpoint: String) {
        if let service = exchange.service, let ticket = exchange.ticket, let index = exchange.endpointIndex {
            service.finish(
                ticket: ticket, endpoint: index, failure: error.code.isUpstreamFailure ? .error(error.code) : nil)
            exchange.ticket = nil
        }
        exchange.service?.counters.countFailedTry(error.code)
        self.context.failureLog.record(
            error, service: exchange.service?.name ?? "", endpoint: endpoint, requestID: exchange.requestID,
            try: exchange.tries)
    }

    /// The header rules' input for a request of this connection (SPEC §4, §18).
    func headerRulesInput(_ exchange: Exchange, upstreamIsHTTP2: Bool = false) -> RequestHeaderRules.Input {
        RequestHeaderRules.Input(
            headers: exchange.head.headers, clientAddress: self.clientAddress, requestID: exchange.requestID,
            trace: exchange.trace.map { (exchange.tracing, $0) }, forwardedProto: self.tls == nil ? "http" : "https",
            clientCertificate: self.tls?.clientCertificate, upstreamIsHTTP2: upstreamIsHTTP2)
    }

    /// The connection's timer: a try still waiting for its response past `per_try_timeout`, or a transfer with no
    /// byte either way for `idle_timeout`, fails as `upstream_timeout` (SPEC §17); the state machine re-arms it for
    /// the current try's next deadline otherwise.
    func timerFired() {
        self.timer = nil
        self.timerScheduledFor = nil
        guard let context = self.handlerContext else { return }
        let transfer = self.exchange?.transfer
        let outcome = self.machine.timerFired(
            now: context.eventLoop.now, lastActivityNs: transfer?.lastActivityNs ?? 0)
        self.syncTimer(context: context)
        guard let exchange = self.exchange, let transfer else { return }
        let service = exchange.service?.name
        let error: OutriggerError
        switch outcome {
        case .none:
            return
        case .perTryTimeout:
            let perTryMs = self.machine.exchange?.perTryMs ?? 0
            error = OutriggerError(
                .upstreamTimeout, "the upstream did not answer within per_try_timeout", service: service,
                detail: "per_try_timeout=\(perTryMs)ms")
        case .idleTimeout:
            let idleMs = (self.machine.exchange?.idleTimeoutNs ?? 0) / 1_000_000
            error = OutriggerError(
                .upstreamTimeout, "no byte moved to or from the upstream within idle_timeout", service: service,
                detail: "idle_timeout=\(idleMs)ms")
        }
        transfer.cancel()
        self.transfer(
            transfer, didFail: error, responseStarted: self.machine.exchange?.response != .pending)
    }

    /// Asks the retry plan whether to try again after `failure`; schedules the retry after its backoff if so.
    func retryIfAllowed(_ exchange: Exchange, after failure: UpstreamFailure, context: ChannelHandlerContext) -> Bool {
        // Upgrades are never retried (SPEC §10).
        guard exchange.upgrade == nil, let service = exchange.service, let plan = exchange.retry else { return false }
        let decision = service.decideRetry(
            plan, after: failure, responseStarted: self.machine.exchange?.response != .pending,
            deadlineMs: exchange.deadlineMs)
        switch decision {
        case .giveUp(let reason):
            if reason == .budgetExhausted {
                self.context.logger.debug(
                    "retry budget exhausted",
                    metadata: ["service": "\(service.name)", "request_id": "\(exchange.requestID)"])
            }
            return false
        case .retry(let delay, let avoid):
            if self.context.spanExporter != nil {
                exchange.retryEvents.append(
                    (SpanBuilder.unixNs(AccessRecord.now()), failure.description, exchange.tries + 1))
            }
            exchange.endpointIndex = nil
            exchange.ticket = nil
            let loopBound = NIOLoopBound((self, exchange), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(delay)) {
                let (handler, exchange) = loopBound.value
                guard let context = handler.handlerContext, handler.exchange === exchange else { return }
                handler.startTry(exchange, avoid: avoid, context: context)
            }
            return true
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

    // MARK: - TransferSink

    func transfer(_ transfer: any UpstreamCall, didProduce bytes: ByteBuffer) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        if self.machine.exchange?.response == .pending {
            self.machine.responseStarted()
            exchange.status = Self.status(of: bytes)
        }
        let count = bytes.readableBytes
        exchange.bytesOut += Int64(count)
        context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
        transfer.consumed(count)
        if !context.channel.isWritable { transfer.clientWritabilityChanged(writable: false) }
    }

    func transferWantsMoreBody(_ transfer: any UpstreamCall) {
        guard let context = self.handlerContext, self.exchange?.transfer === transfer else { return }
        self.machine.uploadBlocked(false)
        self.resumeReadingIfPossible(context: context)
    }

    func transferDidFinish(
        _ transfer: any UpstreamCall, status: Int, closeConnection: Bool, held: ByteBuffer?, grpcStatus: Int?
    ) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        exchange.transfer = nil
        exchange.upstreamDoneAt = context.eventLoop.now
        self.machine.tryEnded()
        let failure = UpstreamFailure.of(status: status, grpcStatus: grpcStatus)
        exchange.grpcStatus = grpcStatus
        if let service = exchange.service, let ticket = exchange.ticket, let index = exchange.endpointIndex {
            service.finish(ticket: ticket, endpoint: index, failure: failure)
            exchange.ticket = nil
        }
        if let held {
            // A retryable status whose bytes were held back: retry it, or pass the upstream's answer on.
            transfer.consumed(held.readableBytes)
            if let failure, self.retryIfAllowed(exchange, after: failure, context: context) { return }
            self.machine.responseStarted()
            exchange.bytesOut += Int64(held.readableBytes)
            context.write(self.wrapOutboundOut(held), promise: nil)
        }
        exchange.status = status
        exchange.service?.counters.countResponse(status: status)
        self.machine.responseCompleted(closeConnection: closeConnection)
        self.finishExchange(exchange, context: context)
    }

    func transfer(_ transfer: any UpstreamCall, didFail error: OutriggerError, responseStarted: Bool) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer else {
            return
        }
        exchange.transfer = nil
        exchange.upstreamDoneAt = context.eventLoop.now
        self.machine.tryEnded()
        _ = exchange.upgrade?.detach()
        exchange.upgrade = nil
        if responseStarted { self.machine.responseStarted() }
        self.countFailedTry(exchange, error, endpoint: transfer.endpoint)
        exchange.lastError = error
        if self.retryIfAllowed(exchange, after: .error(error.code), context: context) { return }
        self.rescue(error, context: context)
    }
}
