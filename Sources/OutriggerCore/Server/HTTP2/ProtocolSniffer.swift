import NIOCore

/// The first bytes of an inbound connection decide its protocol (SPEC §10): the HTTP/2 connection preface means
/// HTTP/2 (h2c by prior knowledge on the plain listener, h2 after ALPN on the TLS one); anything else is HTTP/1.1.
/// It then installs that protocol's handlers after itself, hands them what it read, and leaves.
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (RFC 9113 §3.4).
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    enum Choice { case http1, http2 }

    private let configure: (ChannelHandlerContext, Choice) throws -> Void
    private var buffered: ByteBuffer?

    /// `configure` adds the chosen protocol's handlers at the end of the pipeline.
    init(configure: @escaping (ChannelHandlerContext, Choice) throws -> Void) {
        self.configure = configure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = self.unwrapInboundIn(data)
        if var buffered = self.buffered {
            buffered.writeBuffer(&incoming)
            incoming = buffered
        }
        guard let chosen = Self.decide(incoming.readableBytesView) else {
            self.buffered = incoming
            return
        }
        self.buffered = nil
        do {
            try self.configure(context, chosen)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(self.wrapInboundOut(incoming))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is DrainEvent {
            // A graceful shutdown: a connection that has not sent its first request is idle; it closes now.
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.buffered != nil { context.read() }  // undecided: more bytes are needed
        context.fireChannelReadComplete()
    }

    /// HTTP/2 once the whole preface is there, HTTP/1.1 at the first byte that differs; nil while undecided.
    static func decide(_ bytes: ByteBufferView) -> Choice? {
        for (offset, byte) in bytes.prefix(Self.preface.count).enumerated() where byte != Self.preface[offset] {
            return .http1
        }
        return bytes.count >= Self.preface.count ? .http2 : nil
    }
}
