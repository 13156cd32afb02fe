import NIOCore
import NIOHPACK
import NIOHTTP2

/// One try on an HTTP/2 stream of Outrigger's own h2c connection (`protocol: h2c` to `http://` and `unix:`
/// endpoints, docs/http2.md): the request goes out as HEADERS and DATA frames, the response comes back framed for
/// the client exactly as the libcurl path frames it (`ResponseHeadBuilder`, chunked with trailers).
///
/// Both the `UpstreamCall` the connection's handler drives and the handler of the stream's channel. Everything runs
/// on the client connection's event loop, which is also the h2c connection's: no state is shared across threads.
/// Backpressure both ways uses the stream's flow control: a blocked client stops reads on the stream, so no
/// WINDOW_UPDATE goes out and the upstream stops after one window; a full stream stops reads from the client.
final class H2CCall: ChannelDuplexHandler, UpstreamCall {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// Request body bytes queued before the stream opens, above which client reads stop.
    static let pendingHighWater = 256 * 1024

    let eventLoop: any EventLoop
    let service: String
    let endpoint: String
    let measuresIdle: Bool
    var sink: (any TransferSink)?
    /// The connection whose stream this is, once one was opened for it.
    var connection: H2CConnection?
    /// Where the stream is opened, kept to open it again on a new connection when the upstream refused it unprocessed.
    private var route: (pool: H2CConnectionPool, endpoint: Endpoint, connectTimeoutMs: Int64, tls: H2CConnection.TLS?)?
    /// Streams the upstream refused unprocessed (GOAWAY, REFUSED_STREAM): the call moves to a new connection, at
    /// most `maxRefusals` times, without counting as a failed try (the request never reached the service).
    private var refusals = 0
    static let maxRefusals = 2
    /// Request body bytes sent, kept until the response head arrives (up to `replayLimit`) so a refused stream can
    /// be opened again with them.
    private var sentBody: [ByteBuffer] = []
    private var sentBytes = 0
    private var replayable = true
    static let replayLimit = 64 * 1024

    private let requestHeaders: HPACKHeaders
    private let bodyless: Bool
    private let framing: UpstreamRequest.ClientFraming
    let holdStatuses: [Int]
    let holdsGRPCUnavailable: Bool

    private var stream: ChannelHandlerContext?
    private var headSent = false
    private var pending = CircularBuffer<ByteBuffer>()
    private var pendingBytes = 0
    private var requestEnded = false
    private var uploadStopped = false

    var head = ResponseHeadBuilder()
    var headLine: [UInt8] = []
    var responseFraming: ResponseHeadBuilder.BodyFraming?
    var status = 0
    var closeAfter = false
    var grpcStatus: Int?
    var trailers: [UInt8] = []
    var holding = false
    var output: ByteBuffer?
    private var delivered = false
    var responseComplete = false

    private var clientBlocked = false
    private var backlog = 0
    private var readPending = false
    private var resetCode: HTTP2ErrorCode?
    private var streamError: (any Error)?
    private var timeout: Scheduled<Void>?
    private var ended = false
    private(set) var isCancelled = false
    private var lastActivity: UInt64

    init(
        request: H2CRequest, eventLoop: any EventLoop, service: String, endpoint: String, measuresIdle: Bool
    ) {
        self.eventLoop = eventLoop
        self.service = service
        self.endpoint = endpoint
        self.measuresIdle = measuresIdle
        self.requestHeaders = request.headers
        self.bodyless = request.bodyless
        self.framing = request.framing
        self.holdStatuses = request.holdStatuses
        self.holdsGRPCUnavailable = request.holdsGRPCUnavailable
        self.lastActivity = eventLoop.now.uptimeNanoseconds
        self.head.framing = request.framing
    }

    /// Starts the same try through libcurl instead (the upstream chose HTTP/1.1 by ALPN); returns that call.
    var fallback: (() -> (any UpstreamCall)?)?

    /// Starts the try: a stream on the pool's connection to `endpoint`, bounded by `requestTimeoutMs` (0 = none).
    func start(
        pool: H2CConnectionPool, endpoint: Endpoint, connectTimeoutMs: Int64, requestTimeoutMs: Int64,
        tls: H2CConnection.TLS?
    ) {
        if requestTimeoutMs > 0 {
            let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
            self.timeout = self.eventLoop.scheduleTask(in: .milliseconds(requestTimeoutMs)) {
                let call = bound.value
                call.fail(
                    OutriggerError(
                        .upstreamTimeout, "the upstream did not answer in time", service: call.service,
                        detail: "request_timeout=\(requestTimeoutMs)ms"))
            }
        }
        self.route = (pool, endpoint, connectTimeoutMs, tls)
        pool.connection(to: endpoint, connectTimeoutMs: connectTimeoutMs, tls: tls).attach(self)
    }

    /// The upstream chose HTTP/1.1: the try goes on through libcurl, with the body received so far; this call ends
    /// without a word to the sink (the new call reports instead).
    func fallBackToHTTP1() {
        guard !self.ended, let fallback = self.fallback else {
            self.connectFailed(
                .upstreamProtocolError, "the upstream sent a malformed response", detail: "ALPN: http/1.1")
            return
        }
        let sink = self.sink
        let body = Array(self.pending)
        let ended = self.requestEnded
        let stopped = self.uploadStopped
        self.end()
        guard let call = fallback() else { return }
        for buffer in body { _ = call.appendBody(buffer) }
        if ended { call.endBody() }
        if stopped { sink?.transferWantsMoreBody(call) }
    }

    /// Keeps a copy of body bytes sent while a refused stream could still be opened again.
    private func keepSent(_ buffer: ByteBuffer) {
        guard self.replayable else { return }
        self.sentBytes += buffer.readableBytes
        if self.sentBytes > Self.replayLimit || self.responseFraming != nil {
            self.replayable = false
            self.sentBody = []
        } else {
            self.sentBody.append(buffer)
        }
    }

    /// Whether a stream that closed now was refused unprocessed by the upstream and can be opened again.
    private func wasRefused(streamID: HTTP2StreamID?, connection: H2CConnection?) -> Bool {
        guard self.replayable, self.responseFraming == nil, self.output == nil, self.refusals < Self.maxRefusals,
            self.route != nil
        else { return false }
        if self.resetCode == .refusedStream { return true }
        guard let streamID, let last = connection?.goAwayLastStreamID else { return false }
        return streamID > last
    }

    /// Opens the request again on a new connection (the old one is draining).
    private func reopen() {
        guard let route = self.route else { return }
        self.refusals += 1
        self.headSent = false
        self.resetCode = nil
        self.streamError = nil
        self.pending = CircularBuffer(self.sentBody)
        self.pendingBytes = self.sentBytes
        self.sentBody = []
        self.sentBytes = 0
        route.pool.connection(to: route.endpoint, connectTimeoutMs: route.connectTimeoutMs, tls: route.tls).attach(self)
    }

    // MARK: - UpstreamCall

    var lastActivityNs: UInt64 { self.lastActivity }

    private func touch() {
        if self.measuresIdle { self.lastActivity = self.eventLoop.now.uptimeNanoseconds }
    }

    func appendBody(_ buffer: ByteBuffer) -> Bool {
        guard !self.ended, !self.requestEnded else { return false }
        guard self.headSent, let stream = self.stream else {
            self.pending.append(buffer)
            self.pendingBytes += buffer.readableBytes
            self.uploadStopped = self.pendingBytes > Self.pendingHighWater
            return self.uploadStopped
        }
        self.keepSent(buffer)
        stream.writeAndFlush(
            Self.wrapOutboundOut(.data(.init(data: .byteBuffer(buffer), endStream: false))), promise: nil)
        self.touch()
        self.uploadStopped = !stream.channel.isWritable
        return self.uploadStopped
    }

    func endBody() {
        guard !self.requestEnded else { return }
        self.requestEnded = true
        guard self.headSent, let stream = self.stream, !self.ended else { return }
        stream.writeAndFlush(
            Self.wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))), promise: nil)
    }

    func consumed(_ bytes: Int) {
        self.backlog -= bytes
        self.resumeReadingIfPossible()
    }

    func clientWritabilityChanged(writable: Bool) {
        self.clientBlocked = !writable
        if writable {
            self.touch()
            self.resumeReadingIfPossible()
        }
    }

    func cancel() {
        guard !self.isCancelled else { return }
        self.isCancelled = true
        self.sink = nil
        self.end()
    }

    // MARK: - Connection events

    /// The connection could not be opened.
    func connectFailed(_ code: OutriggerError.Code, _ message: String, detail: String) {
        self.fail(OutriggerError(code, message, service: self.service, detail: detail))
    }

    /// The connection went away before this call's stream opened.
    func connectionLost(detail: String) {
        self.fail(
            OutriggerError(
                .upstreamReset, "the upstream closed or reset the connection", service: self.service, detail: detail))
    }

    // MARK: - ChannelHandler (the stream's channel)

    func handlerAdded(context: ChannelHandlerContext) {
        self.stream = context
        if context.channel.isActive { self.sendHead(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.sendHead(context: context)
        context.fireChannelActive()
    }

    private func sendHead(context: ChannelHandlerContext) {
        guard !self.headSent else { return }
        self.headSent = true
        if self.ended {
            context.close(promise: nil)
            return
        }
        let endNow = self.bodyless || (self.requestEnded && self.pendingBytes == 0)
        context.write(
            Self.wrapOutboundOut(.headers(.init(headers: self.requestHeaders, endStream: endNow))), promise: nil)
        if !endNow {
            while let buffer = self.pending.popFirst() {
                self.keepSent(buffer)
                let last = self.pending.isEmpty && self.requestEnded
                context.write(
                    Self.wrapOutboundOut(.data(.init(data: .byteBuffer(buffer), endStream: last))), promise: nil)
            }
        }
        if self.bodyless { self.requestEnded = true }
        self.pendingBytes = 0
        context.flush()
        self.touch()
        if self.uploadStopped && context.channel.isWritable {
            self.uploadStopped = false
            self.sink?.transferWantsMoreBody(self)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && self.uploadStopped && !self.ended {
            self.uploadStopped = false
            self.sink?.transferWantsMoreBody(self)
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if self.clientBlocked || self.backlog > Transfer.backlogHighWater {
            self.readPending = true  // no WINDOW_UPDATE goes out until the client catches up
        } else {
            context.read()
        }
    }

    private func resumeReadingIfPossible() {
        guard self.readPending, !self.clientBlocked, self.backlog <= Transfer.backlogLowWater, let stream = self.stream
        else { return }
        self.readPending = false
        stream.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.ended else { return }
        self.touch()
        switch Self.unwrapInboundIn(data) {
        case .headers(let headers):
            if self.responseFraming == nil {
                self.takeHead(headers.headers)
            } else {
                self.takeTrailers(headers.headers)
            }
            if headers.endStream { self.responseEnded() }
        case .data(let data):
            guard let framing = self.responseFraming else {
                self.fail(self.protocolError("DATA before the response head"))
                return
            }
            if case .byteBuffer(let bytes) = data.data, bytes.readableBytes > 0 {
                self.appendResponseBody(bytes, framing)
            }
            if data.endStream { self.responseEnded() }
        case .rstStream(let code):
            self.resetCode = code
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.deliver()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.streamError = error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A stream channel always has its connection as parent (a test's embedded channel has none, and no ID).
        let streamID =
            context.channel.parent == nil
            ? nil : try? context.channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID)
        let connection = self.connection
        self.stream = nil
        self.connection = nil
        connection?.streamClosed()
        if !self.ended && self.wasRefused(streamID: streamID, connection: connection) {
            // Next loop turn: this handler is still in the closed stream's pipeline until it is torn down.
            let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
            self.eventLoop.execute {
                let call = bound.value
                if !call.ended { call.reopen() }
            }
        } else if !self.ended {
            self.deliver()
            if !self.ended {
                let detail: String
                if let code = self.resetCode {
                    detail = "RST_STREAM \(code)"
                } else if let error = self.streamError {
                    detail = "\(error)"
                } else {
                    detail = "the stream closed before the response ended"
                }
                self.fail(
                    OutriggerError(
                        .upstreamReset, "the upstream closed or reset the connection", service: self.service,
                        detail: detail))
            }
        }
        context.fireChannelInactive()
    }

    // MARK: - Ending

    /// Hands the output gathered so far (and the completion, once the response ended) to the sink.
    private func deliver() {
        guard !self.ended else { return }
        if self.holding, let pending = self.output, !self.responseComplete {
            if pending.readableBytes <= Transfer.holdLimit { return }
            self.holding = false  // too big to hold: stream it, and it will not be retried
        }
        if !self.holding, let output = self.output, output.readableBytes > 0 {
            self.output = nil
            self.delivered = true
            self.backlog += output.readableBytes
            self.sink?.transfer(self, didProduce: output)
            guard !self.ended else { return }
        }
        guard self.responseComplete else { return }
        var held: ByteBuffer?
        if self.holding {
            held = self.output ?? ByteBuffer()
            self.output = nil
        }
        let sink = self.sink
        self.end()
        sink?.transferDidFinish(
            self, status: self.status, closeConnection: self.closeAfter, held: held, grpcStatus: self.grpcStatus)
    }

    func fail(_ error: OutriggerError) {
        guard !self.ended else { return }
        let sink = self.sink
        self.end()
        sink?.transfer(self, didFail: error, responseStarted: self.delivered)
    }

    /// No further events: the timer stops, and a stream still open either way is reset (RST_STREAM CANCEL). A stream
    /// that ended both ways closes by itself: resetting it too would be one more RST_STREAM for the upstream to
    /// count against the connection (nghttpd answered a burst of them with GOAWAY).
    private func end() {
        guard !self.ended else { return }
        self.ended = true
        self.sink = nil
        self.timeout?.cancel()
        self.timeout = nil
        self.fallback = nil
        if !(self.responseComplete && self.requestEnded) { self.stream?.close(promise: nil) }
    }

    func protocolError(_ detail: String) -> OutriggerError {
        OutriggerError(
            .upstreamProtocolError, "the upstream sent a malformed response", service: self.service, detail: detail)
    }
}
