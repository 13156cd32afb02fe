import NIOCore

/// An upgraded connection (SPEC §10): after the upstream's `101`, the bytes of each side go to the other as they
/// come, until either side closes.
///
/// Both channels run on the same event loop, so the two ends call each other directly. Backpressure is NIO's: an
/// end reads only while the other side's channel is writable, so a slow reader holds the sender in its socket
/// buffers instead of in Outrigger's memory. Frames, close codes and everything else pass untouched: Outrigger never
/// parses the upgraded protocol.
final class Tunnel {
    enum Side { case client, upstream }

    /// Reads grow to 256 KiB when the stream is busy (NIO's default stops at 64 KiB).
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16384, maximum: 262_144)
    /// A side stops reading once 512 KiB wait to be written to the other, and resumes below 128 KiB.
    static let waterMarks = ChannelOptions.Types.WriteBufferWaterMark(low: 131_072, high: 524_288)

    private(set) var client: TunnelEnd?
    private(set) var upstream: TunnelEnd?
    /// Bytes read from each side (and written to the other).
    private(set) var bytesFromClient: Int64 = 0
    private(set) var bytesFromUpstream: Int64 = 0
    /// Why Outrigger ended the tunnel itself, for the access log (nil when a peer closed).
    private(set) var endReason: String?
    private var lastActivity: NIODeadline
    private let idleTimeout: TimeAmount?
    private var idleTimer: Scheduled<Void>?
    private var closedEnds = 0
    private var onEnd: ((Tunnel) -> Void)?

    /// `idleTimeout` (the service's `idle_timeout`; nil for none) closes a tunnel no byte crossed for that long.
    init(idleTimeout: TimeAmount?, now: NIODeadline, onEnd: @escaping (Tunnel) -> Void) {
        self.idleTimeout = idleTimeout
        self.lastActivity = now
        self.onEnd = onEnd
    }

    /// The handler for one side's pipeline.
    func makeEnd(_ side: Side) -> TunnelEnd {
        let end = TunnelEnd(side: side, tunnel: self)
        switch side {
        case .client: self.client = end
        case .upstream: self.upstream = end
        }
        return end
    }

    func peer(of end: TunnelEnd) -> TunnelEnd? { end.side == .client ? self.upstream : self.client }

    func forward(_ buffer: ByteBuffer, from end: TunnelEnd, now: NIODeadline) {
        self.lastActivity = now
        switch end.side {
        case .client: self.bytesFromClient += Int64(buffer.readableBytes)
        case .upstream: self.bytesFromUpstream += Int64(buffer.readableBytes)
        }
        self.peer(of: end)?.write(buffer)
    }

    /// One side closed: the other is closed once what was already sent to it is written.
    func closed(_ end: TunnelEnd) {
        self.closedEnds += 1
        self.peer(of: end)?.closeAfterPendingWrites()
        guard self.closedEnds == 2 else { return }
        self.idleTimer?.cancel()
        self.idleTimer = nil
        let onEnd = self.onEnd
        self.onEnd = nil
        onEnd?(self)
        self.client = nil  // the ends hold the tunnel; it lets go of them
        self.upstream = nil
    }

    /// Starts the idle check on `loop`.
    func startIdleTimer(on loop: any EventLoop) {
        guard let idle = self.idleTimeout else { return }
        self.idleTimer = loop.scheduleTask(deadline: self.lastActivity + idle) { [self] in
            self.idleTimer = nil
            guard self.closedEnds < 2 else { return }
            if loop.now - self.lastActivity >= idle {
                self.endReason = "idle_timeout"
                self.client?.close()
                self.upstream?.close()
            } else {
                self.startIdleTimer(on: loop)
            }
        }
    }
}

/// One side of a `Tunnel`, in that side's pipeline: what it reads goes to the other side; it reads only while the
/// other side can take more.
final class TunnelEnd: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let side: Tunnel.Side
    private let tunnel: Tunnel
    private var context: ChannelHandlerContext?
    private var readPending = false
    private var isClosed = false

    init(side: Tunnel.Side, tunnel: Tunnel) {
        self.side = side
        self.tunnel = tunnel
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil  // the context holds this handler: keeping it would keep both alive
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.tunnel.forward(self.unwrapInboundIn(data), from: self, now: context.eventLoop.now)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.tunnel.peer(of: self)?.flush()
    }

    func read(context: ChannelHandlerContext) {
        if self.tunnel.peer(of: self)?.isWritable ?? true {
            context.read()
        } else {
            self.readPending = true  // resumed when the other side drains
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { self.tunnel.peer(of: self)?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.isClosed {
            self.isClosed = true
            self.tunnel.closed(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or a TLS error on either side ends the tunnel; no HTTP answer is possible any more.
        context.close(promise: nil)
    }

    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    func write(_ buffer: ByteBuffer) {
        self.context?.write(self.wrapOutboundOut(buffer), promise: nil)
    }

    func flush() { self.context?.flush() }

    func resumeReading() {
        guard self.readPending, let context = self.context else { return }
        self.readPending = false
        context.read()
    }

    func close() { self.context?.close(promise: nil) }

    /// Closes once every byte already written has gone out (a close frame just relayed is not lost).
    func closeAfterPendingWrites() {
        guard let context = self.context, !self.isClosed else { return }
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
