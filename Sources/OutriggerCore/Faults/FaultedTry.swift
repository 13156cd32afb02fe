import NIOCore
import NIOHTTP1

/// A try a fault acts on (SPEC §11): held for the delay, then either handed to the real upstream call or ended as
/// the upstream would have ended it (an aborted status, a reset connection).
///
/// It stands in the exchange's place of the upstream call meanwhile, so the handler's timers treat it like any try:
/// `per_try_timeout` or the client leaving cancels it. Body bytes the client sends during the delay are kept and
/// passed on. Loop-confined, like the handler that made it.
final class FaultedTry: UpstreamCall {
    /// Request body bytes kept during a delay above which the client's reads stop.
    static let bodyHighWater = 256 * 1024

    let endpoint: String
    let eventLoop: any EventLoop
    let service: String
    let decision: FaultDecision
    let framing: UpstreamRequest.ClientFraming
    let holdStatuses: [Int]
    var sink: (any TransferSink)?
    /// Starts the real call once the delay is over (the try then goes to the upstream).
    var proceed: (() -> (any UpstreamCall)?)?
    private(set) var lastActivityNs: UInt64

    private var task: Scheduled<Void>?
    private var body: [ByteBuffer] = []
    private var bodyBytes = 0
    private var bodyEnded = false
    private var readingStopped = false
    private var ended = false

    init(
        decision: FaultDecision, endpoint: String, eventLoop: any EventLoop, service: String,
        framing: UpstreamRequest.ClientFraming, holdStatuses: [Int]
    ) {
        self.decision = decision
        self.endpoint = endpoint
        self.eventLoop = eventLoop
        self.service = service
        self.framing = framing
        self.holdStatuses = holdStatuses
        self.lastActivityNs = eventLoop.now.uptimeNanoseconds
    }

    /// Arms the try: after the delay (at least one loop turn, so the handler is never re-entered), or at
    /// `requestTimeoutMs` when that comes first (0 = none).
    func start(requestTimeoutMs: Int64) {
        let bound = NIOLoopBound(self, eventLoop: self.eventLoop)
        if requestTimeoutMs > 0 && self.decision.delayMs >= requestTimeoutMs {
            self.task = self.eventLoop.scheduleTask(in: .milliseconds(requestTimeoutMs)) {
                bound.value.fail(
                    OutriggerError(
                        .upstreamTimeout, "the upstream did not answer in time", service: bound.value.service,
                        detail:
                            "request_timeout=\(requestTimeoutMs)ms (injected delay \(bound.value.decision.delayMs)ms)"))
            }
            return
        }
        self.task = self.eventLoop.scheduleTask(in: .milliseconds(self.decision.delayMs)) {
            bound.value.act()
        }
    }

    private func act() {
        guard !self.ended else { return }
        switch self.decision.outcome {
        case .proceed:
            self.ended = true
            let sink = self.sink
            let proceed = self.proceed
            self.sink = nil
            self.proceed = nil
            guard let call = proceed?() else { return }
            for buffer in self.body { _ = call.appendBody(buffer) }
            if self.bodyEnded { call.endBody() }
            self.body = []
            if self.readingStopped { sink?.transferWantsMoreBody(call) }
        case .abort(let status):
            let response = FaultResponse.abort(status: status, framing: self.framing, fault: self.decision.headerValue)
            let sink = self.sink
            self.end()
            if self.holdStatuses.contains(status) {
                sink?.transferDidFinish(
                    self, status: status, closeConnection: !self.framing.keepAlive, held: response, grpcStatus: nil)
            } else {
                sink?.transfer(self, didProduce: response)
                sink?.transferDidFinish(
                    self, status: status, closeConnection: !self.framing.keepAlive, held: nil, grpcStatus: nil)
            }
        case .reset:
            self.fail(
                OutriggerError(
                    .upstreamReset, "the upstream closed or reset the connection", service: self.service,
                    detail: "injected fault: reset"))
        }
    }

    private func fail(_ error: OutriggerError) {
        guard !self.ended else { return }
        let sink = self.sink
        self.end()
        sink?.transfer(self, didFail: error, responseStarted: false)
    }

    private func end() {
        self.ended = true
        self.sink = nil
        self.proceed = nil
        self.task?.cancel()
        self.task = nil
        self.body = []
    }

    // MARK: - UpstreamCall

    func appendBody(_ buffer: ByteBuffer) -> Bool {
        guard !self.ended else { return false }
        self.body.append(buffer)
        self.bodyBytes += buffer.readableBytes
        self.readingStopped = self.bodyBytes > Self.bodyHighWater
        return self.readingStopped
    }

    func endBody() { self.bodyEnded = true }

    func consumed(_ bytes: Int) {}

    func clientWritabilityChanged(writable: Bool) {}

    func cancel() {
        self.end()
    }
}

/// The response of an aborted try, as an upstream would have sent it, framed for the client.
enum FaultResponse {
    static func abort(status: Int, framing: UpstreamRequest.ClientFraming, fault: String) -> ByteBuffer {
        let bodyless = status == 204 || status == 304 || status < 200
        let body = bodyless ? "" : "fault injected: abort \(status)\n"
        var buffer = ByteBuffer()
        buffer.writeString("HTTP/1.1 \(status) \(HTTPResponseStatus(statusCode: status).reasonPhrase)\r\n")
        if !bodyless { buffer.writeString("content-type: text/plain\r\ncontent-length: \(body.utf8.count)\r\n") }
        buffer.writeString("x-outrigger-fault: \(fault)\r\nx-request-id: \(framing.requestID)\r\n")
        if !framing.keepAlive {
            buffer.writeString("connection: close\r\n")
        } else if !framing.clientIsHTTP11 {
            buffer.writeString("connection: keep-alive\r\n")
        }
        buffer.writeString("\r\n")
        if !framing.isHead { buffer.writeString(body) }
        return buffer
    }
}
