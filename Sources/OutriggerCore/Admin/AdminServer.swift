import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin listener (SPEC §7): a small HTTP/1.1 server on its own event loop, never proxying.
public final class AdminServer: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel

    /// The bound port, or nil for a unix socket.
    public var port: Int? { self.channel.localAddress?.port }

    /// Binds the admin API; refuses a non-loopback address without a token (SPEC §7).
    public static func start(runtime: DaemonRuntime, address: ListenAddress, token: String?) async throws
        -> AdminServer
    {
        guard address.isLocalOnly || token != nil else {
            throw ListenError(
                address: address,
                underlying: AdminExposureError())
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let router = AdminRouter(runtime: runtime, token: token)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(router: router))
                }
            }
        // The history's tick runs on the admin loop: it reads counters only, and ends with the loop.
        group.next().scheduleRepeatedTask(
            initialDelay: .seconds(0), delay: .seconds(Int64(HistoryRecorder.intervalSeconds))
        ) { _ in
            let now = Posix.wallClock()
            runtime.history.tick(
                services: runtime.proxy.state().services,
                atMs: Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000)
        }
        do {
            return AdminServer(group: group, channel: try await Listener.bind(bootstrap, to: address))
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private init(group: MultiThreadedEventLoopGroup, channel: any Channel) {
        self.group = group
        self.channel = channel
    }

    /// Closes the listener and its connections.
    public func shutdown() async {
        try? await self.channel.close()
        try? await self.group.shutdownGracefully()
    }
}

/// A non-loopback admin address without `admin.token`.
struct AdminExposureError: Error, CustomStringConvertible {
    var description: String { "admin.listen is not a loopback address and admin.token is not set" }
}

/// One admin connection: requests answered in order. Reads are answered on the loop; `POST /reload` reads and
/// parses files, so it runs off the event loop and later requests wait for it.
private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The largest request body read (a `PUT /faults/NAME` body is a few hundred bytes).
    static let maxBody = 64 * 1024

    let router: AdminRouter
    var head: HTTPRequestHead?
    var body = ""
    var bodyTooLarge = false
    /// Complete requests waiting behind one being answered off the loop.
    var waiting: [(head: HTTPRequestHead, body: String, tooLarge: Bool)] = []
    var busy = false

    init(router: AdminRouter) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.body = ""
            self.bodyTooLarge = false
        case .body(let buffer):
            if self.body.utf8.count + buffer.readableBytes > Self.maxBody {
                self.bodyTooLarge = true
            } else {
                self.body += String(buffer: buffer)
            }
        case .end:
            guard let head = self.head else { return }
            self.head = nil
            self.waiting.append((head, self.body, self.bodyTooLarge))
            self.body = ""
            self.serveWaiting(context: context)
        }
    }

    private func serveWaiting(context: ChannelHandlerContext) {
        while !self.busy, !self.waiting.isEmpty {
            let (head, body, tooLarge) = self.waiting.removeFirst()
            if tooLarge {
                let response = AdminResponse(
                    status: .payloadTooLarge,
                    body: AdminJSON.error("request_body_too_large", "admin request bodies are limited to 64 KiB"))
                self.write(response, for: head, context: context)
                continue
            }
            if self.router.mustRunOffLoop(method: head.method, uri: head.uri) {
                self.busy = true
                let router = self.router
                let promise = context.eventLoop.makePromise(of: AdminResponse.self)
                promise.completeWithTask {
                    router.handle(method: head.method, uri: head.uri, headers: head.headers)
                }
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                promise.futureResult.whenSuccess { response in
                    let (handler, context) = loopBound.value
                    handler.busy = false
                    handler.write(response, for: head, context: context)
                    handler.serveWaiting(context: context)
                }
                return
            }
            let response = self.router.handle(method: head.method, uri: head.uri, headers: head.headers, body: body)
            self.write(response, for: head, context: context)
        }
    }

    private func write(_ response: AdminResponse, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders([("content-type", response.contentType)] + response.headers)
        headers.add(name: "content-length", value: String(response.body.utf8.count))
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        context.write(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))),
            promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: response.body.utf8.count)
            buffer.writeString(response.body)
            context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let keepAlive = head.isKeepAlive
        let channel = context.channel
        context.writeAndFlush(self.wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }
}
