import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

// WebSocket and other upgrades (SPEC §10). curl opens the upstream connection (connect-only: the same resolution,
// connect timeout, unix sockets and error mapping as every try) and hands its descriptor over; NIO writes the
// request, reads the answer and, after a `101`, relays bytes both ways (`Tunnel`). Never retried.
extension ProxyHandler {
    /// Starts an upgrade: breaker admission and endpoint as for any try, `request_timeout` until the answer.
    func startUpgrade(_ exchange: Exchange, context: ChannelHandlerContext) {
        guard let service = exchange.service, var plan = exchange.retry,
            let (index, endpoint) = self.admit(exchange, service: service, firstTry: true, avoid: nil, context: context)
        else { return }
        let policy = service.config.policy
        plan.tryStarted(endpoint: index)
        exchange.retry = plan
        exchange.endpointIndex = index
        exchange.endpointName = endpoint.original
        exchange.firstTryAt = context.eventLoop.now

        let attempt = UpgradeAttempt(
            head: UpgradeAttempt.upstreamHead(
                exchange.head, target: exchange.target, rules: self.headerRulesInput(exchange)),
            endpoint: endpoint)
        exchange.upgrade = attempt

        var timeoutMs = policy.requestTimeoutMs
        if let deadline = exchange.deadlineMs { timeoutMs = max(1, deadline - service.clock.nowMs()) }
        if timeoutMs > 0 {
            let loopBound = NIOLoopBound((self, attempt), eventLoop: context.eventLoop)
            attempt.deadline = context.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) {
                let (handler, attempt) = loopBound.value
                handler.upgradeFailed(
                    attempt,
                    OutriggerError(
                        .upstreamTimeout, "the upstream did not answer the upgrade within request_timeout",
                        service: service.name, detail: "request_timeout=\(timeoutMs)ms"))
            }
        }
        var request = UpstreamRequest(
            baseURL: endpoint.connectOnlyURL, target: "/", method: "GET", headers: nil, body: .none,
            unixSocketPath: endpoint.socketPath, connectTimeoutMs: policy.connectTimeoutMs, requestTimeoutMs: 0,
            tlsVerify: true, tlsCAFile: nil,
            framing: .init(isHead: false, clientIsHTTP11: true, keepAlive: false, requestID: exchange.requestID))
        request.connectOnly = true
        let worker = self.context.worker(for: context.eventLoop)
        let transfer = Transfer(
            request: request, eventLoop: context.eventLoop, worker: worker, service: service.name,
            endpoint: endpoint.original, measuresIdle: false)
        transfer.sink = self
        exchange.transfer = transfer
        worker.submit(.start(transfer))
    }

    /// curl connected: NIO takes the descriptor over (TLS for `https://` endpoints with the service's `tls`
    /// block), then sends the request.
    func transfer(_ transfer: any UpstreamCall, didConnect descriptor: Int32) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.transfer === transfer,
            let attempt = exchange.upgrade, let service = exchange.service
        else {
            Glibc.close(descriptor)
            return
        }
        exchange.transfer = nil
        var tls: (context: NIOSSLContext, serverName: String?)?
        if attempt.endpoint.scheme == .https {
            let policy = service.config.policy
            do {
                let name = policy.tlsServerName ?? attempt.endpoint.host
                let isAddress = name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }
                tls = (try self.context.upstreamTLSContext(for: policy), isAddress ? nil : name)
            } catch {
                Glibc.close(descriptor)
                self.upgradeFailed(
                    attempt,
                    OutriggerError(
                        .upstreamTLSError, "the TLS settings of the service could not be loaded", service: service.name,
                        detail: "\(error)"))
                return
            }
        }
        let loopBound = NIOLoopBound((self, attempt), eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.recvAllocator, value: Tunnel.receiveAllocator)
            .channelOption(.writeBufferWaterMark, value: Tunnel.waterMarks)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (handler, attempt) = loopBound.value
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        try sync.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                    }
                    let encoder = HTTPRequestEncoder()
                    let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                    let answer = UpgradeResponseHandler(owner: handler, attempt: attempt)
                    try sync.addHandler(encoder)
                    try sync.addHandler(decoder)
                    try sync.addHandler(answer)
                    attempt.httpHandlers = [answer, decoder, encoder]
                }
            }
            .withConnectedSocket(descriptor)
            .whenComplete { result in
                let (handler, attempt) = loopBound.value
                switch result {
                case .success(let channel):
                    guard handler.exchange?.upgrade === attempt else {
                        channel.close(promise: nil)
                        return
                    }
                    attempt.upstream = channel
                    channel.write(NIOAny(HTTPClientRequestPart.head(attempt.head)), promise: nil)
                    channel.writeAndFlush(NIOAny(HTTPClientRequestPart.end(nil)), promise: nil)
                case .failure(let error):
                    handler.upgradeFailed(
                        attempt,
                        OutriggerError(
                            .upstreamConnectFailed, "could not take over the upstream connection",
                            service: service.name, detail: "\(error)"))
                }
            }
    }

    /// The upstream's answer: a `101` opens the tunnel; anything else goes back to the client as it came, and the
    /// connection closes after it.
    func upgradeResponse(_ part: HTTPClientResponsePart, attempt: UpgradeAttempt, upstream: ChannelHandlerContext) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.upgrade === attempt else {
            upstream.close(promise: nil)
            return
        }
        switch part {
        case .head(let head):
            attempt.deadline?.cancel()
            attempt.deadline = nil
            exchange.upstreamDoneAt = context.eventLoop.now
            let status = Int(head.status.code)
            let switching = status == 101
            if let service = exchange.service, let ticket = exchange.ticket, let index = exchange.endpointIndex {
                service.finish(ticket: ticket, endpoint: index, failure: switching ? nil : .of(status: status))
                exchange.ticket = nil
            }
            exchange.status = status
            exchange.service?.counters.countResponse(status: status)
            let (bytes, framing) = UpgradeAttempt.clientHead(
                head, requestID: exchange.requestID, switching: switching, allocator: context.channel.allocator)
            exchange.bytesOut += Int64(bytes.readableBytes)
            self.machine.responseStarted()
            context.writeAndFlush(self.wrapOutboundOut(bytes), promise: nil)
            if switching {
                self.openTunnel(exchange, attempt: attempt, upstream: upstream.channel, context: context)
            } else {
                attempt.refusedFraming = framing
            }
        case .body(var buffer):
            guard let framing = attempt.refusedFraming else { return }
            exchange.bytesOut += Int64(buffer.readableBytes)
            if framing == .chunked {
                var chunk = context.channel.allocator.buffer(capacity: buffer.readableBytes + 16)
                chunk.writeString(String(buffer.readableBytes, radix: 16) + "\r\n")
                chunk.writeBuffer(&buffer)
                chunk.writeStaticString("\r\n")
                buffer = chunk
            }
            context.writeAndFlush(self.wrapOutboundOut(buffer), promise: nil)
        case .end:
            guard let framing = attempt.refusedFraming else { return }
            if framing == .chunked {
                var last = context.channel.allocator.buffer(capacity: 5)
                last.writeStaticString("0\r\n\r\n")
                context.write(self.wrapOutboundOut(last), promise: nil)
            }
            self.endRefusedUpgrade(exchange, attempt: attempt, error: nil, context: context)
        }
    }

    /// The upstream connection closed or failed before the tunnel took over.
    func upgradeUpstreamClosed(_ attempt: UpgradeAttempt, error: (any Error)?) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.upgrade === attempt else {
            return
        }
        if attempt.tunnel != nil {
            // Closed between the 101 and the tunnel taking over: nothing more can cross.
            if !attempt.tunnelInstalled { context.close(promise: nil) }
            return
        }
        if attempt.refusedFraming != nil {
            // A refusal whose body runs to the upstream's close (or is cut by it).
            self.endRefusedUpgrade(
                exchange, attempt: attempt, error: error == nil ? nil : OutriggerError.Code.upstreamReset.rawValue,
                context: context)
            return
        }
        let service = exchange.service?.name
        if let error, error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            self.upgradeFailed(
                attempt,
                OutriggerError(
                    .upstreamTLSError, "the TLS handshake with the upstream failed", service: service,
                    detail: "\(error)"))
        } else if let error, error is HTTPParserError {
            self.upgradeFailed(
                attempt,
                OutriggerError(
                    .upstreamProtocolError, "the upstream sent a malformed response", service: service,
                    detail: "\(error)"))
        } else {
            self.upgradeFailed(
                attempt,
                OutriggerError(
                    .upstreamReset, "the upstream closed the connection before answering the upgrade",
                    service: service, detail: error.map { "\($0)" }))
        }
    }

    /// The upgrade failed before any answer: counted for the breaker, answered with Outrigger's error, not retried.
    func upgradeFailed(_ attempt: UpgradeAttempt, _ error: OutriggerError) {
        guard let context = self.handlerContext, let exchange = self.exchange, exchange.upgrade === attempt,
            attempt.tunnel == nil
        else { return }
        attempt.deadline?.cancel()
        attempt.deadline = nil
        exchange.transfer?.cancel()
        exchange.transfer = nil
        exchange.upstreamDoneAt = context.eventLoop.now
        if attempt.refusedFraming != nil {
            // Part of the upstream's refusal already went out: the connection ends here.
            self.endRefusedUpgrade(exchange, attempt: attempt, error: error.code.rawValue, context: context)
            return
        }
        self.countFailedTry(exchange, error, endpoint: attempt.endpoint.original)
        // Detached before the close: the upstream's inactivity then finds no attempt to fail a second time.
        exchange.upgrade = nil
        attempt.detach()?.close(promise: nil)
        self.rescue(error, context: context)
    }

    /// A refused upgrade was passed back: log it and close (the request decoder stopped at the upgrade request).
    private func endRefusedUpgrade(
        _ exchange: Exchange, attempt: UpgradeAttempt, error: String?, context: ChannelHandlerContext
    ) {
        attempt.refusedFraming = nil
        exchange.upgrade = nil
        self.exchange = nil
        attempt.detach()?.close(promise: nil)
        self.releaseSlot(exchange)
        self.logAccess(exchange, status: exchange.status, error: error)
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// After the `101`: the HTTP handlers leave both pipelines and a `Tunnel` joins them. Done after the current
    /// read, since the decoders are inside their callbacks now; bytes either side sent meanwhile stay in the
    /// decoders and follow into the tunnel when they are removed.
    private func openTunnel(
        _ exchange: Exchange, attempt: UpgradeAttempt, upstream: any Channel, context: ChannelHandlerContext
    ) {
        let policy = exchange.service?.config.policy
        let idle = (policy?.idleTimeoutMs ?? 0) > 0 ? TimeAmount.milliseconds(policy!.idleTimeoutMs) : nil
        self.context.upgradedOpen.wrappingIncrement(ordering: .relaxed)
        self.context.upgradedTotal.wrappingIncrement(ordering: .relaxed)
        let tunnel = Tunnel(idleTimeout: idle, now: context.eventLoop.now) { tunnel in
            self.tunnelEnded(exchange, tunnel: tunnel)
        }
        attempt.tunnel = tunnel
        let loopBound = NIOLoopBound((self, attempt, tunnel, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, attempt, tunnel, context) = loopBound.value
            guard context.channel.isActive, upstream.isActive else {
                context.close(promise: nil)
                upstream.close(promise: nil)
                if !context.channel.isActive && !upstream.isActive { handler.tunnelEnded(exchange, tunnel: tunnel) }
                return
            }
            do {
                // Larger reads and a deeper write queue for a stream that may carry bulk data (bounded still).
                if let options = context.channel.syncOptions {
                    try options.setOption(.recvAllocator, value: Tunnel.receiveAllocator)
                    try options.setOption(.writeBufferWaterMark, value: Tunnel.waterMarks)
                }
                let clientSync = context.pipeline.syncOperations
                try clientSync.addHandler(tunnel.makeEnd(.client), position: .before(handler))
                let decoder = try clientSync.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
                clientSync.removeHandler(context: decoder, promise: nil)
                let upstreamSync = upstream.pipeline.syncOperations
                try upstreamSync.addHandler(tunnel.makeEnd(.upstream))
                for http in attempt.httpHandlers { upstreamSync.removeHandler(http, promise: nil) }
                attempt.httpHandlers = []
                attempt.tunnelInstalled = true
                // What the decoders held (bytes sent right after the 101 or the request) was forwarded on removal.
                tunnel.client?.flush()
                tunnel.upstream?.flush()
                tunnel.startIdleTimer(on: context.eventLoop)
            } catch {
                handler.context.logger.error("cannot open the upgrade tunnel", metadata: ["error": "\(error)"])
                context.close(promise: nil)
                upstream.close(promise: nil)
            }
        }
    }

    /// Both sides of the tunnel closed: the access log line, with the bytes each way (SPEC §10).
    private func tunnelEnded(_ exchange: Exchange, tunnel: Tunnel) {
        guard !exchange.tunnelLogged else { return }
        exchange.tunnelLogged = true
        self.context.upgradedOpen.wrappingDecrement(ordering: .relaxed)
        exchange.bodyBytes = tunnel.bytesFromClient
        exchange.bytesOut += tunnel.bytesFromUpstream
        self.releaseSlot(exchange)
        self.logAccess(exchange, status: 101, error: tunnel.endReason)
        _ = exchange.upgrade?.detach()
        exchange.upgrade = nil
        if self.exchange === exchange { self.exchange = nil }
    }
}

extension Endpoint {
    /// The URL curl connects to for an upgrade: always `http://` with the port spelled out, since TLS (for
    /// `https://` endpoints) is NIO's on the taken-over connection.
    var connectOnlyURL: String {
        guard self.scheme != .unix else { return self.curlBaseURL }
        let hostPart = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "http://\(hostPart):\(self.port)/"
    }
}
