import NIOCore

/// Sent up the pipeline when a request head took longer than `header_read_timeout` (slowloris guard).
struct HeaderReadTimeoutEvent {}

/// Watches raw inbound bytes for the connection timers of SPEC §2: `header_read_timeout` from the first byte of a
/// request head until the head is parsed, and `client_idle_timeout` between requests.
///
/// Requests only move a deadline; a single scheduled check per connection re-arms itself for the newest deadline
/// when it fires early. Scheduling and cancelling an event-loop task per request cost more than the rest of the
/// request's bookkeeping (measured with `perf`, see bench/README.md).
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
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
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

    /// A request head was parsed: no deadline while the exchange runs.
    func headReceived() {
        self.state = .busy
        self.deadline = nil
    }

    /// The exchange finished and the connection stays open: the idle deadline starts.
    func exchangeFinished() {
        self.arm(.idle)
    }

    private func arm(_ state: State) {
        self.state = state
        let amount = state == .idle ? self.idleTimeout : self.headerTimeout
        guard amount.nanoseconds > 0, let context = self.context else {
            self.deadline = nil
            return
        }
        let deadline = context.eventLoop.now + amount
        self.deadline = deadline
        if let scheduled = self.timerDeadline, scheduled <= deadline { return }
        self.schedule(at: deadline, context: context)
    }

    private func schedule(at deadline: NIODeadline, context: ChannelHandlerContext) {
        self.timer?.cancel()
        self.timerDeadline = deadline
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        self.timer = context.eventLoop.scheduleTask(deadline: deadline) {
            loopBound.value.check()
        }
    }

    private func check() {
        self.timer = nil
        self.timerDeadline = nil
        guard let context = self.context, let deadline = self.deadline else { return }
        if context.eventLoop.now < deadline {
            self.schedule(at: deadline, context: context)
            return
        }
        self.deadline = nil
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
