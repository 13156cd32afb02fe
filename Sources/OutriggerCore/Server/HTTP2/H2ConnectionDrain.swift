import NIOCore
import NIOHTTP2

/// A graceful shutdown on an HTTP/2 connection (SPEC §9): GOAWAY tells the client to open no more streams; the
/// streams in flight finish, and the connection closes once none is left (or at `drain_timeout`).
final class H2ConnectionDrain: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private var openStreams = 0
    private var draining = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is NIOHTTP2StreamCreatedEvent {
            self.openStreams += 1
        } else if event is StreamClosedEvent {
            self.openStreams -= 1
            if self.draining && self.openStreams == 0 { context.close(promise: nil) }
        } else if event is DrainEvent {
            self.draining = true
            let goAway = HTTP2Frame(
                streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
            context.writeAndFlush(self.wrapOutboundOut(goAway), promise: nil)
            if self.openStreams == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
