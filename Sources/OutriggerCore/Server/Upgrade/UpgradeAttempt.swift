import NIOCore
import NIOHTTP1

/// An upgrade in progress on a client connection (SPEC §10): from the request to the upstream's answer, then the
/// tunnel. It is never retried.
final class UpgradeAttempt {
    /// The request as it goes upstream (hop-by-hop headers dropped, `Connection: upgrade` and `Upgrade` kept).
    let head: HTTPRequestHead
    let endpoint: Endpoint
    /// The upstream connection, once curl connected it and NIO took it over.
    var upstream: (any Channel)?
    /// `request_timeout` until the upstream answers; nothing bounds the tunnel but `idle_timeout`.
    var deadline: Scheduled<Void>?
    /// How a refused handshake's body is framed to the client, once its head went out.
    var refusedFraming: RefusedFraming?
    /// After the `101`.
    var tunnel: Tunnel?
    /// Set once the tunnel's ends replaced the HTTP handlers in both pipelines.
    var tunnelInstalled = false
    /// The upstream pipeline's HTTP handlers, removed when the tunnel takes over.
    var httpHandlers: [any RemovableChannelHandler] = []

    enum RefusedFraming {
        /// Body bytes go as they come (Content-Length, or read to the upstream's close).
        case raw
        /// The upstream's chunks, decoded by NIO, go out chunked again.
        case chunked
    }

    init(head: HTTPRequestHead, endpoint: Endpoint) {
        self.head = head
        self.endpoint = endpoint
    }

    /// Lets go of everything the attempt holds (the handshake handler holds the attempt, and the tunnel its
    /// owner), returning the upstream channel for the caller to close.
    func detach() -> (any Channel)? {
        self.deadline?.cancel()
        self.deadline = nil
        self.httpHandlers = []
        self.tunnel = nil
        let upstream = self.upstream
        self.upstream = nil
        return upstream
    }

    /// Whether `head` asks to switch protocols: HTTP/1.1, an `Upgrade` header and `upgrade` among the
    /// `Connection` tokens (RFC 9110 §7.8).
    static func isRequested(by head: HTTPRequestHead) -> Bool {
        guard head.version == .http1_1, head.method != .CONNECT, head.headers.contains(name: "upgrade") else {
            return false
        }
        return head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }

    /// The request head for the upstream: the header rules of SPEC §4 (as for any request), then the upgrade's own
    /// `Connection` and `Upgrade`.
    static func upstreamHead(
        _ client: HTTPRequestHead, target: String, rules: RequestHeaderRules.Input
    ) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        RequestHeaderRules.apply(rules) { headers.add(name: $0, value: $1) }
        headers.add(name: "Connection", value: "upgrade")
        for value in client.headers["upgrade"] { headers.add(name: "Upgrade", value: value) }
        return HTTPRequestHead(version: .http1_1, method: client.method, uri: target, headers: headers)
    }

    /// The upstream's response head as the client gets it: status and headers as they came; for a refused
    /// handshake the connection then closes, so `Connection: close` replaces the upstream's hop-by-hop framing
    /// words, and chunked bodies stay chunked.
    static func clientHead(
        _ head: HTTPResponseHead, requestID: String, switching: Bool, allocator: ByteBufferAllocator
    ) -> (ByteBuffer, RefusedFraming) {
        var buffer = allocator.buffer(capacity: 256)
        buffer.writeString("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)\r\n")
        var framing = RefusedFraming.raw
        var sawRequestID = false
        for (name, value) in head.headers {
            let lower = name.lowercased()
            if !switching {
                if lower == "connection" || lower == "keep-alive" { continue }
                if lower == "transfer-encoding" { framing = .chunked }
            }
            if lower == "x-request-id" { sawRequestID = true }
            buffer.writeString("\(name): \(value)\r\n")
        }
        if !sawRequestID { buffer.writeString("x-request-id: \(requestID)\r\n") }
        if !switching { buffer.writeString("Connection: close\r\n") }
        buffer.writeString("\r\n")
        return (buffer, framing)
    }
}

/// In the upstream connection's pipeline until the handshake is answered: hands the response parts to the client
/// connection's `ProxyHandler` (same event loop).
final class UpgradeResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private weak var owner: ProxyHandler?
    private let attempt: UpgradeAttempt

    init(owner: ProxyHandler, attempt: UpgradeAttempt) {
        self.owner = owner
        self.attempt = attempt
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.owner?.upgradeResponse(self.unwrapInboundIn(data), attempt: self.attempt, upstream: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.owner?.upgradeUpstreamClosed(self.attempt, error: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.owner?.upgradeUpstreamClosed(self.attempt, error: error)
        context.close(promise: nil)
    }
}
