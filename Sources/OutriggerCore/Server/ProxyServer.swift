import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// The inbound HTTP/1.1 listeners of SPEC §2/§3 (and the TLS one of §18): one curl worker per event loop, connection limits and timers.
public final class ProxyServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let workers: [CurlWorker]
    private let context: ProxyContext
    private let channel: any Channel
    private let tlsChannel: (any Channel)?
    private let failureLogFlush: RepeatedTask
    /// The address actually bound (with the real port when the config asked for port 0).
    public let localAddress: SocketAddress?
    /// The TLS listener's address, when one is configured.
    public let tlsLocalAddress: SocketAddress?

    /// Binds the listener and starts the workers; throws when the address cannot be bound.
    public static func start(state: ProxyState, logger: Logger, accessLog: AccessLog? = nil) async throws -> ProxyServer
    {
        let config = state.loaded.config
        let threads = config.workers ?? System.coreCount
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var workers: [CurlWorker] = []
        var map: [ObjectIdentifier: CurlWorker] = [:]
        for (index, loop) in group.makeIterator().enumerated() {
            let worker = CurlWorker(name: "outrigger-curl-\(index)")
            worker.start()
            workers.append(worker)
            map[ObjectIdentifier(loop)] = worker
        }
        let exporter = config.tracing.otlp.map { SpanExporter(settings: $0, logger: logger) }
        exporter?.start()
        let context = ProxyContext(
            state: state, workers: map, fallback: workers[0], logger: logger, accessLog: accessLog,
            spanExporter: exporter)
        let bootstrap = Self.bootstrap(group: group, context: context, tls: false)
        let channel: any Channel
        do {
            channel = try await Listener.bind(bootstrap, to: config.listen)
        } catch {
            for worker in workers { worker.shutdown() }
            await exporter?.shutdown(flushMs: 0)
            try? await group.shutdownGracefully()
            throw error
        }
        var tlsChannel: (any Channel)?
        if let tls = config.tls {
            do {
                context.tlsContext.withLockedValue { $0 = nil }
                let sslContext = try InboundTLSContext.make(tls)
                context.tlsContext.withLockedValue { $0 = sslContext }
                tlsChannel = try await Listener.bind(
                    Self.bootstrap(group: group, context: context, tls: true), to: tls.listen)
            } catch {
                try? await channel.close()
                for worker in workers { worker.shutdown() }
                await exporter?.shutdown(flushMs: 0)
                try? await group.shutdownGracefully()
                throw error as? ListenError ?? ListenError(address: tls.listen, underlying: error)
            }
        }
        return ProxyServer(group: group, workers: workers, context: context, channel: channel, tlsChannel: tlsChannel)
    }

    /// The listener's channel setup; with `tls`, the connection first goes through the current TLS context.
    private static func bootstrap(group: MultiThreadedEventLoopGroup, context: ProxyContext, tls: Bool)
        -> ServerBootstrap
    {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                let limits = context.limits
                let open = context.openConnections.wrappingIncrementThenLoad(ordering: .relaxed)
                context.totalConnections.wrappingIncrement(ordering: .relaxed)
                let id = ObjectIdentifier(channel)
                context.channels.withLockedValue { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in
                    context.openConnections.wrappingDecrement(ordering: .relaxed)
                    context.channels.withLockedValue { _ = $0.removeValue(forKey: id) }
                }
                if open > limits.maxConnections {
                    context.refusedConnections.wrappingIncrement(ordering: .relaxed)
                    return channel.close()
                }
                let sslContext = tls ? context.tlsContext.withLockedValue { $0 } : nil
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    var tlsInfo: InboundTLSInfo?
                    if let sslContext {
                        let info = InboundTLSInfo()
                        try sync.addHandler(NIOSSLServerHandler(context: sslContext))
                        try sync.addHandler(TLSConnectionObserver(stats: context.tlsStats, info: info))
                        tlsInfo = info
                    }
                    let guardHandler = ConnectionGuard(
                        headerTimeoutMs: limits.headerReadTimeoutMs, idleTimeoutMs: limits.clientIdleTimeoutMs)
                    try sync.addHandler(guardHandler)
                    try sync.addHandler(
                        ProtocolSniffer { handlerContext, chosen in
                            let sync = handlerContext.pipeline.syncOperations
                            switch chosen {
                            case .http1:
                                try Self.addHTTP1(
                                    to: sync, context: context, limits: limits, guardHandler: guardHandler, tls: tlsInfo
                                )
                            case .http2:
                                // Streams have their own timers; the connection's guard stands down.
                                guardHandler.headReceived()
                                try Self.addHTTP2(
                                    to: sync, context: context, limits: limits,
                                    tls: NIOLoopBound(tlsInfo, eventLoop: handlerContext.eventLoop))
                            }
                        })
                }
            }
    }

    /// HTTP/1.1: the request decoder and one `ProxyHandler` for the connection.
    private static func addHTTP1(
        to sync: ChannelPipeline.SynchronousOperations, context: ProxyContext, limits: OutriggerConfig.Limits,
        guardHandler: ConnectionGuard, tls: InboundTLSInfo?
    ) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = limits.maxRequestHeaderBytes
        decoderLimits.maxHeaderFieldSize = limits.maxRequestHeaderBytes
        let decoder = HTTPRequestDecoder(
            leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .drop,
            limitConfiguration: decoderLimits)
        try sync.addHandler(ByteToMessageHandler(decoder))
        try sync.addHandler(ProxyHandler(context: context, connectionGuard: guardHandler, tls: tls))
    }

    /// HTTP/2 (SPEC §10): swift-nio-http2 with Outrigger's limits; each stream gets an `H2StreamAdapter` and its
    /// own `ProxyHandler`, so a stream is one exchange through the same path as an HTTP/1.1 request.
    private static func addHTTP2(
        to sync: ChannelPipeline.SynchronousOperations, context: ProxyContext, limits: OutriggerConfig.Limits,
        tls: NIOLoopBound<InboundTLSInfo?>
    ) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: limits.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxRequestHeaderBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        connection.targetWindowSize = 1 << 20
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        let lifecycle = H2ConnectionLifecycle(idleTimeoutMs: limits.clientIdleTimeoutMs)
        let counter = H2StreamCounter(lifecycle: NIOLoopBound(lifecycle, eventLoop: tls.eventLoop))
        try sync.addHandler(FlushCoalescer())
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream, streamDelegate: counter
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                // A stream has no head or idle timer of its own: the exchange's timeouts apply.
                let streamGuard = ConnectionGuard(headerTimeoutMs: 0, idleTimeoutMs: 0)
                let streamSync = streamChannel.pipeline.syncOperations
                try streamSync.addHandler(H2StreamAdapter())
                // Streams run on their connection's event loop, where `tls` was made.
                try streamSync.addHandler(
                    ProxyHandler(context: context, connectionGuard: streamGuard, tls: tls.value))
            }
        }
        try sync.addHandler(lifecycle)
    }

    private init(
        group: MultiThreadedEventLoopGroup, workers: [CurlWorker], context: ProxyContext, channel: any Channel,
        tlsChannel: (any Channel)?
    ) {
        self.group = group
        self.workers = workers
        self.context = context
        self.channel = channel
        self.tlsChannel = tlsChannel
        self.localAddress = channel.localAddress
        self.tlsLocalAddress = tlsChannel?.localAddress
        self.failureLogFlush = group.next().scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            context.failureLog.flush()
            // Run-time faults past their ttl no longer act (FaultOverrides reads the clock); here they are dropped
            // and the end is logged, within a second.
            for service in context.faults.expire(nowMs: SystemMillisecondClock().nowMs()) {
                context.logger.info(
                    "faults ended", metadata: ["source": "admin", "service": "\(service)", "reason": "ttl expired"])
            }
        }
    }

    /// Faults set at run time through the admin API (SPEC §11).
    public var faults: FaultOverrides { self.context.faults }

    /// Span export (SPEC §13), when on.
    public var spanExporter: SpanExporter? { self.context.spanExporter }

    /// The bound TCP port, or nil for a unix socket.
    public var port: Int? { self.localAddress?.port }

    /// Connections accepted since start, and refused by `max_connections`.
    public var totalConnections: Int { self.context.totalConnections.load(ordering: .relaxed) }
    public var refusedConnections: Int { self.context.refusedConnections.load(ordering: .relaxed) }
    /// Requests answered since start (all services, Outrigger's own errors included).
    public var requests: Int { self.context.requests.load(ordering: .relaxed) }

    /// Upgraded connections (tunnels) open now, and since start.
    public var upgradedOpen: Int { self.context.upgradedOpen.load(ordering: .relaxed) }
    public var upgradedTotal: Int { self.context.upgradedTotal.load(ordering: .relaxed) }

    /// Connections currently open.
    public var openConnections: Int { self.context.openConnections.load(ordering: .relaxed) }

    /// The configuration snapshot new requests run on.
    public func state() -> ProxyState { self.context.state() }

    /// Swaps the configuration snapshot used by new requests.
    public func replace(state: ProxyState) { self.context.replace(state) }

    /// Builds the TLS context of `tls` without using it: a reload checks the new pair before swapping anything.
    public func makeTLSContext(_ tls: OutriggerConfig.InboundTLS) throws -> NIOSSLContext {
        try InboundTLSContext.make(tls)
    }

    /// New TLS connections use `context` from now on; open ones keep theirs.
    public func replaceTLS(context: NIOSSLContext) { self.context.tlsContext.withLockedValue { $0 = context } }

    /// TLS handshakes completed, and failures by reason.
    var tlsStats: TLSStats { self.context.tlsStats }

    /// Stops accepting, lets in-flight requests finish within `drainTimeoutMs` (idle keep-alive connections close
    /// at once, busy ones after their current response), then closes what is left and stops everything (SPEC §9).
    /// Returns how many connections had to be cut.
    @discardableResult
    public func shutdown(drainTimeoutMs: Int64) async -> Int {
        self.context.draining.store(true, ordering: .relaxed)
        try? await self.channel.close()
        try? await self.tlsChannel?.close()
        for channel in self.context.channels.withLockedValue({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(DrainEvent())
        }
        await self.awaitConnectionsClosed(within: drainTimeoutMs)
        let remaining = self.context.channels.withLockedValue { Array($0.values) }
        if !remaining.isEmpty {
            self.context.logger.warning(
                "drain_timeout reached: closing connections with requests still in flight",
                metadata: ["connections": "\(remaining.count)", "drain_timeout_ms": "\(drainTimeoutMs)"])
            for channel in remaining { try? await channel.close() }
        }
        let cut = remaining.count
        self.failureLogFlush.cancel()
        self.context.failureLog.flush(final: true)
        // The spans of the drained requests go out (for up to 2 s) before the exporter stops.
        await self.context.spanExporter?.shutdown()
        for worker in self.workers { worker.shutdown() }
        try? await self.group.shutdownGracefully()
        return cut
    }
}

extension ProxyServer {
    /// Waits until every open connection has closed by itself, or `timeoutMs` passed: the connections' own close
    /// futures end the wait, not a poll. A connection accepted while the listeners closed is waited for too.
    func awaitConnectionsClosed(within timeoutMs: Int64) async {
        let deadline = NIODeadline.now() + .milliseconds(timeoutMs)
        let loop = self.group.next()
        while true {
            let open = self.context.channels.withLockedValue { Array($0.values) }
            guard !open.isEmpty, NIODeadline.now() < deadline else { return }
            let allClosed = EventLoopFuture.andAllComplete(open.map(\.closeFuture), on: loop)
            // Whichever comes first, the last close or the deadline, resumes the wait (once).
            let closedInTime: Bool = await withCheckedContinuation { continuation in
                let resumed = NIOLockedValueBox(false)
                let resume: @Sendable (Bool) -> Void = { value in
                    let first = resumed.withLockedValue { done in
                        defer { done = true }
                        return !done
                    }
                    if first { continuation.resume(returning: value) }
                }
                let timeout = loop.scheduleTask(deadline: deadline) { resume(false) }
                allClosed.whenComplete { _ in
                    timeout.cancel()
                    resume(true)
                }
            }
            if !closedInTime { return }
        }
    }
}

/// Tells every connection that a graceful shutdown started.
struct DrainEvent {}

/// The listener could not be bound.
public struct ListenError: Error, CustomStringConvertible {
    /// The address from the config.
    public var address: ListenAddress
    /// What the system said.
    public var underlying: any Error

    public var description: String { "cannot listen on \(self.address): \(self.underlying)" }
}
