import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS

/// One HTTP/2 connection by prior knowledge to an upstream endpoint, carrying many calls' streams.
///
/// Loop-confined to its pool's event loop. Calls that arrive while it connects wait in `waiting`; a connect failure
/// fails them all with the error a libcurl connect would have given (`upstream_connect_failed` or
/// `upstream_connect_timeout`).
final class H2CConnection {
    enum State {
        case connecting
        case ready(any Channel, NIOHTTP2Handler.StreamMultiplexer)
        case closed
    }

    /// TLS to an `https://` endpoint: HTTP/2 is chosen by ALPN.
    struct TLS {
        var context: NIOSSLContext
        /// SNI and the name verified (nil for an address).
        var serverName: String?
        /// `protocol: h2c` to an https endpoint: HTTP/2 or nothing. Otherwise (`auto`) an upstream that picks
        /// HTTP/1.1 is remembered as such and its calls go through libcurl.
        var requireH2: Bool
    }

    /// The upstream chose HTTP/1.1 by ALPN.
    struct ChoseHTTP1: Error {}

    /// Connected, but the TLS handshake did not end well (certificate, name, refused client certificate).
    struct HandshakeFailed: Error, CustomStringConvertible {
        var underlying: any Error
        var description: String { "\(self.underlying)" }
    }

    /// Why the connection closed before it was established (a TLS failure, seen by `ConnectErrorRecorder`).
    var lastError: (any Error)?

    let key: String
    private weak var pool: H2CConnectionPool?
    private(set) var state = State.connecting
    /// GOAWAY received: streams already open finish, new ones go to a new connection.
    private(set) var draining = false
    private var waiting: [H2CCall] = []
    private var openStreams = 0
    private var idleTimer: Scheduled<Void>?

    init(key: String, pool: H2CConnectionPool) {
        self.key = key
        self.pool = pool
    }

    /// Whether a new call may open a stream here.
    var acceptsStreams: Bool {
        if self.draining { return false }
        if case .closed = self.state { return false }
        return true
    }

    /// Local settings: no server push, 1 MiB stream windows (a stalled client holds at most that much per stream).
    static func pipelineSettings() -> (NIOHTTP2Handler.ConnectionConfiguration, NIOHTTP2Handler.StreamConfiguration) {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 20),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        return (connection, stream)
    }

    func connect(to endpoint: Endpoint, timeoutMs: Int64, tls: TLS?) {
        guard let pool = self.pool else { return }
        let loop = pool.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let established = loop.makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(max(timeoutMs, 1)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    guard let tls else {
                        // Established once connected (below): the initializer runs before the connect.
                        try Self.configureHTTP2(channel, connection: bound)
                        return
                    }
                    try sync.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: tls.serverName))
                    // After the TLS handler, so the handshake's errors reach it.
                    try sync.addHandler(ConnectErrorRecorder(connection: bound))
                    try sync.addHandler(
                        ApplicationProtocolNegotiationHandler { result, channel in
                            guard case .negotiated("h2") = result else {
                                established.fail(ChoseHTTP1())
                                return channel.close()
                            }
                            return channel.eventLoop.makeCompletedFuture {
                                try Self.configureHTTP2(channel, connection: bound)
                                established.succeed()
                            }
                        })
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let path = endpoint.socketPath {
            connected = bootstrap.connect(unixDomainSocketPath: path)
        } else {
            connected = bootstrap.connect(host: endpoint.host, port: endpoint.port)
        }
        connected.whenComplete { result in
            switch result {
            case .success(let channel):
                if tls == nil { established.succeed() }
                // A TLS handshake that fails closes the channel before ALPN ends.
                channel.closeFuture.whenComplete { _ in
                    let error = bound.value.lastError ?? ChannelError.ioOnClosedChannel
                    established.fail(tls == nil || error is ChoseHTTP1 ? error : HandshakeFailed(underlying: error))
                }
            case .failure(let error):
                established.fail(error)
            }
        }
        established.futureResult.hop(to: loop).whenComplete { result in
            let connection = bound.value
            switch result {
            case .success:
                guard case .connecting = connection.state, let (channel, multiplexer) = connection.prepared else {
                    return
                }
                connection.state = .ready(channel, multiplexer)
                let waiting = connection.waiting
                connection.waiting = []
                for call in waiting { connection.open(call) }
                connection.armIdleTimer()
            case .failure(let error as ChoseHTTP1):
                if tls?.requireH2 == true {
                    connection.failed(error, timeoutMs: timeoutMs)
                } else {
                    connection.choseHTTP1(endpoint)
                }
            case .failure(let error):
                connection.failed(error, timeoutMs: timeoutMs)
            }
        }
    }

    /// swift-nio-http2 as a client on `channel`, and the watcher of the connection's own frames.
    private static func configureHTTP2(_ channel: any Channel, connection: NIOLoopBound<H2CConnection>) throws {
        let (settings, stream) = Self.pipelineSettings()
        let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: settings, streamConfiguration: stream
        ) { pushed in
            pushed.close()  // push is disabled in the settings; a stream the server opens is refused
        }
        try channel.pipeline.syncOperations.addHandler(H2CConnectionWatcher(connection: connection))
        connection.value.prepared = (channel, multiplexer)
    }

    /// The HTTP/2 pipeline, made before the connection is established (it becomes `.ready` then).
    private var prepared: (any Channel, NIOHTTP2Handler.StreamMultiplexer)?

    /// The upstream picked HTTP/1.1: the pool remembers it, and the waiting calls go through libcurl.
    private func choseHTTP1(_ endpoint: Endpoint) {
        self.state = .closed
        self.pool?.forget(self)
        self.pool?.rememberHTTP1(endpoint)
        let waiting = self.waiting
        self.waiting = []
        for call in waiting { call.fallBackToHTTP1() }
    }

    /// Opens a stream for `call` now, or once connected.
    func attach(_ call: H2CCall) {
        switch self.state {
        case .connecting:
            self.waiting.append(call)
        case .ready:
            self.open(call)
        case .closed:
            call.connectionLost(detail: "the connection closed before the stream opened")
        }
    }

    private func open(_ call: H2CCall) {
        guard case .ready(let channel, let multiplexer) = self.state, !call.isCancelled else { return }
        self.openStreams += 1
        self.idleTimer?.cancel()
        self.idleTimer = nil
        call.connection = self
        let handler = NIOLoopBound(call, eventLoop: channel.eventLoop)
        let promise = channel.eventLoop.makePromise(of: (any Channel).self)
        multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture { try stream.pipeline.syncOperations.addHandler(handler.value) }
        }
        promise.futureResult.whenFailure { error in
            let call = handler.value
            if let connection = call.connection {
                // The stream never got its handler, so no channelInactive will release it.
                call.connection = nil
                connection.streamClosed()
            }
            call.connectionLost(detail: "could not open a stream: \(error)")
        }
    }

    /// A call's stream closed.
    func streamClosed() {
        self.openStreams -= 1
        if self.openStreams == 0 {
            if self.draining {
                self.close()
            } else {
                self.armIdleTimer()
            }
        }
    }

    private func armIdleTimer() {
        guard self.openStreams == 0, let pool = self.pool, case .ready(let channel, _) = self.state else { return }
        self.idleTimer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: pool.eventLoop)
        self.idleTimer = pool.eventLoop.scheduleTask(in: pool.idleTimeout) {
            let connection = bound.value
            guard connection.openStreams == 0 else { return }
            connection.pool?.forget(connection)
            channel.close(promise: nil)
        }
    }

    private func failed(_ error: any Error, timeoutMs: Int64) {
        self.state = .closed
        self.pool?.forget(self)
        let failure: OutriggerError.Code
        let message: String
        if case ChannelError.connectTimeout = error {
            failure = .upstreamConnectTimeout
            message = "timed out connecting to the upstream"
        } else if error is HandshakeFailed || error is NIOSSLError || error is ChoseHTTP1 {
            failure = .upstreamTLSError
            message =
                error is ChoseHTTP1
                ? "the upstream did not offer HTTP/2 (ALPN)" : "the TLS handshake with the upstream failed"
        } else {
            failure = .upstreamConnectFailed
            message = "could not connect to the upstream"
        }
        let detail = failure == .upstreamConnectTimeout ? "connect_timeout=\(timeoutMs)ms" : "\(error)"
        let waiting = self.waiting
        self.waiting = []
        for call in waiting { call.connectFailed(failure, message, detail: detail) }
    }

    /// The last stream the upstream's GOAWAY said it may process: streams above it were refused unprocessed.
    private(set) var goAwayLastStreamID: HTTP2StreamID?

    /// GOAWAY from the upstream: no new streams here.
    func goAwayReceived(lastStreamID: HTTP2StreamID) {
        self.goAwayLastStreamID = min(lastStreamID, self.goAwayLastStreamID ?? lastStreamID)
        self.draining = true
        self.pool?.forget(self)
        if self.openStreams == 0 { self.close() }
    }

    /// The connection's channel closed.
    func channelClosed() {
        self.state = .closed
        self.idleTimer?.cancel()
        self.idleTimer = nil
        self.pool?.forget(self)
        let waiting = self.waiting
        self.waiting = []
        for call in waiting { call.connectionLost(detail: "the connection closed before the stream opened") }
    }

    func close() {
        if case .ready(let channel, _) = self.state { channel.close(promise: nil) }
    }
}

/// Watches the connection's own frames and its end, after swift-nio-http2's handler.
final class H2CConnectionWatcher: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private let connection: NIOLoopBound<H2CConnection>

    init(connection: NIOLoopBound<H2CConnection>) {
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        // swift-nio-http2 hands the GOAWAY on before it closes the refused streams, so they see it when they close.
        if case .goAway(let lastStreamID, _, _) = frame.payload {
            self.connection.value.goAwayReceived(lastStreamID: lastStreamID)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.connection.value.channelClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A connection error (protocol violation, reset): its streams fail as they close.
        context.close(promise: nil)
    }
}

/// Keeps the error that closes a connection before it is established (a TLS handshake that failed), so the calls
/// waiting for it fail with the right code.
final class ConnectErrorRecorder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let connection: NIOLoopBound<H2CConnection>

    init(connection: NIOLoopBound<H2CConnection>) {
        self.connection = connection
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.connection.value.lastError == nil { self.connection.value.lastError = error }
        context.fireErrorCaught(error)
    }
}
