import NIOCore
import NIOHTTP2
import NIOPosix

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

    func connect(to endpoint: Endpoint, timeoutMs: Int64) {
        guard let pool = self.pool else { return }
        let loop = pool.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(max(timeoutMs, 1)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (connection, stream) = Self.pipelineSettings()
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: connection, streamConfiguration: stream
                    ) { pushed in
                        pushed.close()  // push is disabled in the settings; a stream the server opens is refused
                    }
                    try channel.pipeline.syncOperations.addHandler(H2CConnectionWatcher(connection: bound))
                    bound.value.state = .ready(channel, multiplexer)
                }
            }
        let connected: EventLoopFuture<any Channel>
        if let path = endpoint.socketPath {
            connected = bootstrap.connect(unixDomainSocketPath: path)
        } else {
            connected = bootstrap.connect(host: endpoint.host, port: endpoint.port)
        }
        connected.hop(to: loop).whenComplete { result in
            let connection = bound.value
            switch result {
            case .success:
                let waiting = connection.waiting
                connection.waiting = []
                for call in waiting { connection.open(call) }
                connection.armIdleTimer()
            case .failure(let error):
                connection.failed(error, timeoutMs: timeoutMs)
            }
        }
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
