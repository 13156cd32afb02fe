import NIOCore

/// Sent up the pipeline when a request head took longer than `header_read_timeout` (slowloris guard).
struct HeaderReadTimeoutEvent {}

/// Watches raw inbound bytes for the connection timers of SPEC §2: `header_read_timeout` from the first byte of a
/// request head until the head is parsed, and `client_idle_timeout` between requests.
final class ConnectionGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        case readingHead
        case busy
        case idle
    }

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var state = State.readingHead
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?

    init(headerTimeoutMs: Int64, idleTimeoutMs: Int64) {
        self.headerTimeout = .milliseconds(headerTimeoutMs)
        self.idleTimeout = .milliseconds(idleTimeoutMs)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { self.arm(.readingHead) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.arm(.readingHead)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timer = nil
        self.context = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .idle = self.state { self.arm(.readingHead) }
        context.fireChannelRead(data)
    }

    /// A request head was parsed: no timer while the exchange runs.
    func headReceived() {
        self.timer?.cancel()
        self.timer = nil
        self.state = .busy
    }

    /// The exchange finished and the connection stays open: start the idle timer.
    func exchangeFinished() {
        self.arm(.idle)
    }

    private func arm(_ state: State) {
        self.timer?.cancel()
        self.state = state
        guard let context = self.context else { return }
        let amount = state == .idle ? self.idleTimeout : self.headerTimeout
        guard amount.nanoseconds > 0 else {
            self.timer = nil
            return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(in: amount) {
            loopBound.value.fire()
        }
    }

    private func fire() {
        guard let context = self.context else { return }
        self.timer = nil
        switch self.state {
        case .readingHead:
            context.fireUserInboundEventTriggered(HeaderReadTimeoutEvent())
        case .idle:
            context.close(promise: nil)
        case .busy:
            break
        }
    }
}
