import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import OutriggerCore

@Suite("Upgrades without sockets (SPEC §10)")
struct UpgradeTests {
    static func head(_ headers: [(String, String)], version: HTTPVersion = .http1_1, method: HTTPMethod = .GET)
        -> HTTPRequestHead
    {
        HTTPRequestHead(version: version, method: method, uri: "/chat", headers: HTTPHeaders(headers))
    }

    @Test func onlyAnHTTP11RequestWithUpgradeInConnection_isAnUpgrade() {
        let ws = [("Host", "a"), ("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket")]
        #expect(UpgradeAttempt.isRequested(by: Self.head(ws)))
        #expect(!UpgradeAttempt.isRequested(by: Self.head(ws, version: .http1_0)))
        #expect(!UpgradeAttempt.isRequested(by: Self.head(ws, method: .CONNECT)))
        #expect(!UpgradeAttempt.isRequested(by: Self.head([("Host", "a"), ("Upgrade", "websocket")])))
        #expect(!UpgradeAttempt.isRequested(by: Self.head([("Host", "a"), ("Connection", "upgrade")])))
    }

    @Test func upstreamHead_keepsUpgradeAndConnection_afterTheHeaderRules() {
        let client = Self.head([
            ("Host", "chat"), ("Connection", "Upgrade, X-Private"), ("Upgrade", "websocket"), ("X-Private", "drop"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
            ("Keep-Alive", "timeout=5"),
        ])
        let head = UpgradeAttempt.upstreamHead(
            client, target: "/v1/chat",
            rules: .init(headers: client.headers, clientAddress: "10.0.0.9", requestID: "rid"))
        #expect(head.uri == "/v1/chat")
        #expect(head.headers["connection"] == ["upgrade"])
        #expect(head.headers["upgrade"] == ["websocket"])
        #expect(head.headers["sec-websocket-key"] == ["dGhlIHNhbXBsZSBub25jZQ=="])
        #expect(head.headers["x-private"].isEmpty && head.headers["keep-alive"].isEmpty)
        #expect(head.headers["x-forwarded-for"] == ["10.0.0.9"])
        #expect(head.headers["x-request-id"] == ["rid"])
        #expect(head.headers["accept"].isEmpty && head.headers["expect"].isEmpty)  // curl's suppressors are not headers
    }

    @Test func clientHead_passes101AsItCame_andARefusalClosesTheConnection() {
        let allocator = ByteBufferAllocator()
        var switching = HTTPResponseHead(version: .http1_1, status: .switchingProtocols)
        switching.headers.add(name: "Upgrade", value: "websocket")
        switching.headers.add(name: "Connection", value: "Upgrade")
        switching.headers.add(name: "Sec-WebSocket-Accept", value: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        let (open, _) = UpgradeAttempt.clientHead(switching, requestID: "rid", switching: true, allocator: allocator)
        #expect(
            String(buffer: open)
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nx-request-id: rid\r\n\r\n")
        var refused = HTTPResponseHead(version: .http1_1, status: .forbidden)
        refused.headers.add(name: "Connection", value: "keep-alive")
        refused.headers.add(name: "Transfer-Encoding", value: "chunked")
        refused.headers.add(name: "x-request-id", value: "theirs")
        let (closed, framing) = UpgradeAttempt.clientHead(
            refused, requestID: "rid", switching: false, allocator: allocator)
        #expect(
            String(buffer: closed)
                == "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nx-request-id: theirs\r\nConnection: close\r\n\r\n"
        )
        #expect(framing == .chunked)
    }

    @Test func tunnel_relaysBothWays_holdsReadsForASlowSide_andEndsOnceBothClosed() throws {
        let loop = EmbeddedEventLoop()
        var ended: (Int64, Int64, String?)?
        let tunnel = Tunnel(idleTimeout: .seconds(5), now: loop.now) {
            ended = ($0.bytesFromClient, $0.bytesFromUpstream, $0.endReason)
        }
        let client = EmbeddedChannel(handler: tunnel.makeEnd(.client), loop: loop)
        let reads = ReadCounter()
        let upstream = EmbeddedChannel(handlers: [reads, tunnel.makeEnd(.upstream)], loop: loop)
        _ = try client.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
        _ = try upstream.connect(to: .init(ipAddress: "127.0.0.1", port: 2)).wait()
        try client.writeInbound(ByteBuffer(string: "frame from client"))
        client.pipeline.fireChannelReadComplete()
        #expect(try upstream.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "frame from client"))
        try upstream.writeInbound(ByteBuffer(string: "frame from upstream"))
        upstream.pipeline.fireChannelReadComplete()
        #expect(try client.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "frame from upstream"))

        // The client stops taking bytes: the upstream side holds its next read until the client drains.
        client.isWritable = false
        upstream.read()
        #expect(reads.count == 0)
        client.isWritable = true
        client.pipeline.fireChannelWritabilityChanged()
        #expect(reads.count == 1)
        upstream.read()
        #expect(reads.count == 2)

        // Activity moves the idle deadline; silence past idle_timeout closes both sides, and the end is reported
        // once, with the bytes each way.
        tunnel.startIdleTimer(on: loop)
        loop.advanceTime(by: .seconds(3))
        try client.writeInbound(ByteBuffer(string: "!"))
        loop.advanceTime(by: .seconds(3))
        #expect(ended == nil && client.isActive && upstream.isActive)
        loop.advanceTime(by: .seconds(3))
        #expect(!client.isActive && !upstream.isActive)
        #expect(ended?.0 == 18 && ended?.1 == 19 && ended?.2 == "idle_timeout")
    }
}

/// Counts the reads that got past the handlers after it (the channel would have read its socket).
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var count = 0

    func read(context: ChannelHandlerContext) {
        self.count += 1
        context.read()
    }
}
