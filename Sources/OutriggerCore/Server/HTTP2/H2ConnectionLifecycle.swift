import NIOCore
import NIOHTTP2

/// The life of an HTTP/2 connection beside its streams (SPEC §9, §10): `client_idle_timeout` closes a connection
/// with no open stream for that long, and a graceful shutdown sends GOAWAY, lets the streams in flight finish and
/// closes once none is left (or at `drain_timeout`). Both close with GOAWAY first, so a client knows no stream
/// was lost.
final class H2ConnectionLifecycle: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let idleTimeout: TimeAmount?
    private var openStreams = 0
    private var draining = false
    private var idleTimer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    /// `idleTimeoutMs` 0 keeps idle connections open.
    init(idleTimeoutMs: Int64) {
        self.idleTimeout = idleTimeoutMs > 0 ? .milliseconds(idleTimeoutMs) : nil
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.armIdleTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        self.idleTimer = nil
        self.context = nil
    }

    /// From `H2StreamCounter`, on the connection's event loop.
    func streamOpened() {
        self.openStreams += 1
        self.idleTimer?.cancel()
        self.idleTimer = nil
    }

    /// From `H2StreamCounter`, on the connection's event loop.
    func streamClosed() {
        self.openStreams -= 1
        guard self.openStreams == 0, let context = self.context else { return }
        if self.draining {
            context.close(promise: nil)
        } else {
            self.armIdleTimer(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.idleTimer?.cancel()
        self.idleTimer = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            self.draining = true
            self.goAwayAndMaybeClose(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        guard let idle = self.idleTimeout, self.openStreams == 0 else { return }
        self.idleTimer?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        self.idleTimer = context.eventLoop.scheduleTask(in: idle) {
            let (handler, context) = loopBound.value
            handler.idleTimer = nil
            guard handler.openStreams == 0 else { return }
            handler.goAwayAndMaybeClose(context: context)
        }
    }

    private func goAwayAndMaybeClose(context: ChannelHandlerContext) {
        let goAway = HTTP2Frame(
            streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
        context.writeAndFlush(self.wrapOutboundOut(goAway), promise: nil)
        if self.openStreams == 0 { context.close(promise: nil) }
    }
}

/// Tells a connection's `H2ConnectionLifecycle` when streams open and close (swift-nio-http2 calls it on the
/// connection's event loop, where the lifecycle handler lives).
struct H2StreamCounter: NIOHTTP2StreamDelegate {
    let lifecycle: NIOLoopBound<H2ConnectionLifecycle>

    func streamCreated(_ id: HTTP2StreamID, channel: any Channel) { self.lifecycle.value.streamOpened() }
    func streamClosed(_ id: HTTP2StreamID, channel: any Channel) { self.lifecycle.value.streamClosed() }
}
