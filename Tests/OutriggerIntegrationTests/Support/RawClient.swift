import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A raw TCP client for tests: writes exact bytes and reads exact bytes, with deadlines instead of sleeps.
final class RawClient: Sendable {
    struct State {
        var received: [UInt8] = []
        var closed = false
        var consumed = 0
        /// When hashing, body bytes are folded into `checksum` instead of kept.
        var hashing = false
        var checksum = Checksum()
    }

    let channel: any Channel
    let state: NIOLockedValueBox<State>
    private let group: MultiThreadedEventLoopGroup

    static func connect(port: Int, autoRead: Bool = true) async throws -> RawClient {
        try await self.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: port), autoRead: autoRead)
    }

    static func connect(to address: SocketAddress, autoRead: Bool = true) async throws -> RawClient {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = NIOLockedValueBox(State())
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: autoRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(state: state))
                }
            }
            .connect(to: address).get()
        return RawClient(channel: channel, state: state, group: group)
    }

    private init(channel: any Channel, state: NIOLockedValueBox<State>, group: MultiThreadedEventLoopGroup) {
        self.channel = channel
        self.state = state
        self.group = group
    }

    func send(_ text: String) async throws {
        try await self.send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        var buffer = self.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await self.channel.writeAndFlush(buffer)
    }

    /// Waits until `condition` holds, polling every few milliseconds, or fails at the deadline.
    func waitUntil(
        timeout: Duration = .seconds(10), _ what: String, _ condition: @Sendable (State) -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !self.state.withLockedValue({ condition($0) }) {
            if clock.now > deadline { throw TestTimeout(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Reads the next whole response from the stream.
    func readResponse(head: Bool = false, timeout: Duration = .seconds(10)) async throws -> WireMessage {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let parsed = self.state.withLockedValue { state -> WireMessage? in
                guard
                    let (message, end) = WireParser.parse(
                        state.received, from: state.consumed, framing: .response(noBody: head), eof: state.closed)
                else { return nil }
                state.consumed = end
                return message
            }
            if let parsed { return parsed }
            if self.state.withLockedValue({ $0.closed }) {
                let rest = self.state.withLockedValue { String(decoding: $0.received[$0.consumed...], as: UTF8.self) }
                throw ConnectionClosed(pending: rest)
            }
            if clock.now > deadline { throw TestTimeout(what: "a response") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits for the peer to close the connection.
    func waitForClose(timeout: Duration = .seconds(10)) async throws {
        try await self.waitUntil(timeout: timeout, "the connection to close") { $0.closed }
    }

    var isClosed: Bool { self.state.withLockedValue { $0.closed } }

    func close() async {
        try? await self.channel.close()
        try? await self.group.shutdownGracefully()
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(self.what)" }
}

struct ConnectionClosed: Error, CustomStringConvertible {
    var pending: String
    var description: String { "connection closed before a whole response; had: \(self.pending.prefix(300))" }
}

private final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let state: NIOLockedValueBox<RawClient.State>

    init(state: NIOLockedValueBox<RawClient.State>) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        self.state.withLockedValue { state in
            if state.hashing {
                buffer.withUnsafeReadableBytes { state.checksum.update($0) }
            } else {
                state.received += buffer.readableBytesView
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state.withLockedValue { $0.closed = true }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
