import NIOCore

/// Turns the flushes of one event-loop turn on an HTTP/2 connection into one write to the socket.
///
/// Each stream's response flushes its stream channel, and swift-nio-http2 flushes the connection for it at once
/// unless it is inside a read of that connection. Responses arrive from the curl worker in batches for many
/// streams, so without this every response cost a `writev` of its own; with it, a batch of them leaves in one.
/// Sits between the socket (or TLS) and swift-nio-http2's handler.
final class FlushCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    private var pending = false

    func flush(context: ChannelHandlerContext) {
        guard !self.pending else { return }
        self.pending = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (coalescer, context) = bound.value
            guard coalescer.pending else { return }
            coalescer.pending = false
            context.flush()
        }
    }

    /// A close right after a write (GOAWAY, then close) must not drop what is still waiting for the deferred flush.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if self.pending {
            self.pending = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}
