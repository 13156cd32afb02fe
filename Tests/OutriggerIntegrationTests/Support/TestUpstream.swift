import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// What the test upstream does with a request it has fully received.
enum UpstreamAction: Sendable {
    /// Writes these bytes (a whole response, exactly as given).
    case respond([UInt8])
    /// Writes these bytes, then closes the connection.
    case respondAndClose([UInt8])
    /// Closes without answering.
    case close
    /// Aborts the connection with a TCP reset.
    case reset
    /// Never answers.
    case hang
    /// Writes `head`, then `total` pattern bytes as fast as the connection accepts them.
    case stream(head: String, total: Int)
    /// Writes these bytes after a delay.
    case delayed(milliseconds: Int64, [UInt8])
    /// Writes `head` at once, then the body one byte every `everyMs` (a slow but live upstream).
    case trickle(head: String, body: [UInt8], everyMs: Int64)

    static func text(_ status: String = "200 OK", headers: [(String, String)] = [], body: String = "") -> UpstreamAction
    {
        var text = "HTTP/1.1 \(status)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "content-length: \(body.utf8.count)\r\n\r\n\(body)"
        return .respond(Array(text.utf8))
    }
}

/// An in-process HTTP/1.1 upstream on 127.0.0.1 port 0 that records every request byte for byte.
///
/// Requests carrying `x-test-sink: 1` have their body hashed as it streams instead of kept (for huge uploads); the
/// reply body is `COUNT HASH`. Requests carrying `x-test-stall: 1` are never read past their head.
final class TestUpstream: Sendable {
    struct Stats {
        var requests: [WireMessage] = []
        var connections = 0
        var bytesWritten = 0
        var upstreamBlocked = false
        var sinkBytes = 0
    }

    let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    let stats = NIOLockedValueBox(Stats())
    let port: Int

    /// The unix socket path when bound to one.
    let socketPath: String?

    init(
        unixSocket: String? = nil,
        behaviour: @escaping @Sendable (WireMessage) -> UpstreamAction = { _ in .text(body: "ok") }
    ) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let stats = self.stats
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                stats.withLockedValue { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UpstreamHandler(behaviour: behaviour, stats: stats))
                }
            }
        self.group = group
        if let unixSocket {
            self.channel = try await bootstrap.bind(unixDomainSocketPath: unixSocket, cleanupExistingSocketFile: true)
                .get()
            self.port = 0
        } else {
            self.channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
            self.port = self.channel.localAddress!.port!
        }
        self.socketPath = unixSocket
    }

    var requests: [WireMessage] { self.stats.withLockedValue { $0.requests } }
    var connections: Int { self.stats.withLockedValue { $0.connections } }

    /// Waits (polling, with a deadline) until the upstream has received `count` requests.
    func waitForRequests(_ count: Int = 1, timeout: Duration = .seconds(10)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while self.requests.count < count {
            if clock.now > deadline { throw TestTimeout(what: "\(count) upstream request(s)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func stop() async {
        try? await self.channel.close()
        try? await self.group.shutdownGracefully()
    }
}

private final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let behaviour: @Sendable (WireMessage) -> UpstreamAction
    let stats: NIOLockedValueBox<TestUpstream.Stats>
    var buffer: [UInt8] = []
    var sinking: (remaining: Int, checksum: Checksum)?
    var streaming: (written: Int, total: Int)?
    var stalled = false

    init(behaviour: @escaping @Sendable (WireMessage) -> UpstreamAction, stats: NIOLockedValueBox<TestUpstream.Stats>) {
        self.behaviour = behaviour
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let incoming = self.unwrapInboundIn(data)
        if self.stalled { return }
        if var sink = self.sinking {
            let n = min(sink.remaining, incoming.readableBytes)
            incoming.withUnsafeReadableBytes { sink.checksum.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            sink.remaining -= n
            self.stats.withLockedValue { $0.sinkBytes += n }
            if sink.remaining == 0 {
                self.sinking = nil
                let body = "\(sink.checksum.count) \(sink.checksum.value)"
                self.write(Array("HTTP/1.1 200 OK\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)".utf8), context)
            } else {
                self.sinking = sink
            }
            return
        }
        self.buffer += incoming.readableBytesView
        self.process(context: context)
    }

    func process(context: ChannelHandlerContext) {
        while true {
            if let headEnd = WireParser.find(self.buffer, [13, 10, 13, 10], from: 0) {
                let head = String(decoding: self.buffer[0..<headEnd], as: UTF8.self).lowercased()
                if head.contains("\r\nx-test-stall: 1") {
                    self.stalled = true
                    self.stats.withLockedValue { $0.requests.append(Self.headOnly(self.buffer, headEnd)) }
                    context.channel.setOption(.autoRead, value: false).whenComplete { _ in }
                    return
                }
                if head.contains("\r\nx-test-sink: 1"),
                    let lengthLine = head.components(separatedBy: "\r\n").first(where: {
                        $0.hasPrefix("content-length:")
                    }),
                    let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: [" "]))
                {
                    self.stats.withLockedValue { $0.requests.append(Self.headOnly(self.buffer, headEnd)) }
                    let rest = Array(self.buffer[(headEnd + 4)...])
                    self.buffer = []
                    self.sinking = (length, Checksum())
                    if !rest.isEmpty {
                        var carry = context.channel.allocator.buffer(capacity: rest.count)
                        carry.writeBytes(rest)
                        self.channelRead(context: context, data: NIOAny(carry))
                    } else if length == 0 {
                        self.channelRead(context: context, data: NIOAny(context.channel.allocator.buffer(capacity: 0)))
                    }
                    return
                }
            }
            guard let (message, consumed) = WireParser.parse(self.buffer, from: 0, framing: .request, eof: false) else {
                return
            }
            self.buffer.removeFirst(consumed)
            self.stats.withLockedValue { $0.requests.append(message) }
            switch self.behaviour(message) {
            case .respond(let bytes):
                self.write(bytes, context)
            case .respondAndClose(let bytes):
                self.write(bytes, context)
                context.close(promise: nil)
                return
            case .close:
                context.close(promise: nil)
                return
            case .reset:
                // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                if let provider = context.channel as? any SocketOptionProvider {
                    provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                        context.close(promise: nil)
                    }
                } else {
                    context.close(promise: nil)
                }
                return
            case .hang:
                return
            case .delayed(let milliseconds, let bytes):
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(milliseconds)) {
                    let (handler, context) = loopBound.value
                    handler.write(bytes, context)
                }
            case .trickle(let head, let body, let everyMs):
                self.write(Array(head.utf8), context)
                self.trickle(body[...], everyMs: everyMs, context: context)
            case .stream(let head, let total):
                self.write(Array(head.utf8), context)
                self.streaming = (0, total)
                self.pump(context: context)
                return
            }
        }
    }

    static func headOnly(_ bytes: [UInt8], _ headEnd: Int) -> WireMessage {
        let text = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        let start = lines.removeFirst()
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: [" "]))
        }
        return WireMessage(startLine: start, headers: headers, body: [], rawHead: text + "\r\n\r\n", raw: [])
    }

    func trickle(_ rest: ArraySlice<UInt8>, everyMs: Int64, context: ChannelHandlerContext) {
        guard let next = rest.first else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: .milliseconds(everyMs)) {
            let (handler, context) = loopBound.value
            guard context.channel.isActive else { return }
            handler.write([next], context)
            handler.trickle(rest.dropFirst(), everyMs: everyMs, context: context)
        }
    }

    func write(_ bytes: [UInt8], _ context: ChannelHandlerContext) {
        var out = context.channel.allocator.buffer(capacity: bytes.count)
        out.writeBytes(bytes)
        context.writeAndFlush(self.wrapOutboundOut(out), promise: nil)
    }

    func pump(context: ChannelHandlerContext) {
        guard var stream = self.streaming else { return }
        while context.channel.isWritable && stream.written < stream.total {
            let size = min(64 * 1024, stream.total - stream.written)
            var out = context.channel.allocator.buffer(capacity: size)
            out.writeBytes(Pattern.chunk(offset: stream.written, size: size))
            stream.written += size
            let stats = self.stats
            context.writeAndFlush(self.wrapOutboundOut(out)).whenSuccess {
                stats.withLockedValue { $0.bytesWritten += size }
            }
        }
        self.streaming = stream.written < stream.total ? stream : nil
        self.stats.withLockedValue { $0.upstreamBlocked = !context.channel.isWritable }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.stats.withLockedValue { $0.upstreamBlocked = !context.channel.isWritable }
        if context.channel.isWritable { self.pump(context: context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
