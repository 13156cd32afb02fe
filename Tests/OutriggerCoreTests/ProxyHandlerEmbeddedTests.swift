import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import OutriggerCore

/// The service clock on the embedded loop's virtual time: breakers, deadlines and backoff move only when a test
/// advances it.
struct EmbeddedLoopClock: MillisecondClock {
    let loop: EmbeddedEventLoop
    func nowMs() -> Int64 { Int64(self.loop.now.uptimeNanoseconds / 1_000_000) }
}

/// `ProxyHandler` on an `EmbeddedChannel`: the test writes request parts, plays the curl worker's part by delivering
/// transfer events, advances virtual time, and reads what the client would receive. The worker exists (transfers
/// submit their commands to it) but its thread is never started, so no socket is ever opened.
final class EmbeddedProxy {
    let loop = EmbeddedEventLoop()
    let channel: EmbeddedChannel
    let handler: ProxyHandler
    let worker: CurlWorker
    let state: ProxyState

    init(configure: (inout ServicePolicy) -> Void = { _ in }) throws {
        var policy = ServicePolicy()
        configure(&policy)
        var config = OutriggerConfig()
        config.workers = 1
        let endpoints = try ["127.0.0.1:9", "127.0.0.1:10"].map { try Endpoint.parse($0).get() }
        let registry = Registry(services: [ServiceConfig(name: "svc", endpoints: endpoints, policy: policy)])
        var logger = Logger(label: "embedded")
        logger.logLevel = .critical
        self.state = ProxyState(
            loaded: LoadedConfig(config: config, registry: registry), clock: EmbeddedLoopClock(loop: self.loop),
            logger: logger)
        self.worker = CurlWorker(name: "embedded")
        let context = ProxyContext(
            state: self.state, workers: [ObjectIdentifier(self.loop): self.worker], fallback: self.worker,
            logger: logger, accessLog: nil)
        self.handler = ProxyHandler(
            context: context, connectionGuard: ConnectionGuard(headerTimeoutMs: 0, idleTimeoutMs: 0))
        self.channel = EmbeddedChannel(handler: self.handler, loop: self.loop)
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 40000)).wait()
    }

    var service: ServiceRuntime { self.state.services["svc"]! }

    /// The current try's transfer, as the worker would have received it.
    var transfer: Transfer? { self.handler.exchange?.transfer as? Transfer }

    func send(_ method: HTTPMethod = .GET, _ uri: String = "/", headers: [(String, String)] = [], end: Bool = true)
        throws
    {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        head.headers.add(name: "host", value: "svc")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        try self.channel.writeInbound(HTTPServerRequestPart.head(head))
        if end { try self.channel.writeInbound(HTTPServerRequestPart.end(nil)) }
    }

    static func response(_ status: Int, _ body: String) -> ByteBuffer {
        ByteBuffer(string: "HTTP/1.1 \(status) X\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)")
    }

    /// The worker delivers a whole response for the current try.
    func respond(_ status: Int = 200, _ body: String = "ok") throws {
        let transfer = try #require(self.transfer)
        self.handler.transfer(transfer, didProduce: Self.response(status, body))
        self.handler.transferDidFinish(transfer, status: status, closeConnection: false, held: nil, grpcStatus: nil)
    }

    /// The worker delivers the head and the first bytes of a 10-byte body: the response has started.
    @discardableResult
    func startResponse() throws -> Transfer {
        let transfer = try #require(self.transfer)
        self.handler.transfer(
            transfer, didProduce: ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"))
        return transfer
    }

    /// Everything written to the client so far.
    func output() throws -> String {
        var text = ""
        while let buffer = try self.channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: buffer)
        }
        return text
    }

    /// Closes the channel (breaking the pipeline's reference cycle with the handler) and drops what the never
    /// started worker still holds.
    func finish() {
        _ = try? self.channel.finish(acceptAlreadyClosed: true)
        self.worker.shutdown()
    }

    func advance(ms: Int64) {
        self.loop.advanceTime(by: .milliseconds(ms))
    }

    /// Advances virtual time a millisecond at a time, through the retry backoff, until a new try starts.
    func nextTry(after previous: Transfer, withinMs limit: Int = 2000) -> Transfer? {
        for _ in 0..<limit {
            if let transfer = self.transfer, transfer !== previous { return transfer }
            self.advance(ms: 1)
        }
        return nil
    }
}

@Suite("Proxy handler on an embedded channel", .timeLimit(.minutes(1)))
struct ProxyHandlerEmbeddedTests {
    @Test func pipelinedRequests_areAnsweredOneAtATimeInOrder() throws {
        let proxy = try EmbeddedProxy()
        defer { proxy.finish() }
        try proxy.send(.GET, "/first")
        try proxy.send(.GET, "/second")
        let first = try #require(proxy.transfer)
        #expect(first.curlRequest.target == "/first")
        #expect(proxy.handler.machine.queuedCount == 2)  // head and end of the second wait
        try proxy.respond(200, "one")
        let second = try #require(proxy.transfer)
        #expect(second !== first)
        #expect(second.curlRequest.target == "/second")
        try proxy.respond(200, "two")
        let output = try proxy.output()
        let one = try #require(output.range(of: "one"))
        let two = try #require(output.range(of: "two"))
        #expect(one.upperBound <= two.lowerBound)
        #expect(proxy.channel.isActive)
    }

    @Test func clientClosingMidResponse_cancelsTheTransferAndFreesTheSlot() throws {
        let proxy = try EmbeddedProxy()
        defer { proxy.finish() }
        try proxy.send()
        let transfer = try proxy.startResponse()
        #expect(proxy.service.inFlight.load(ordering: .relaxed) == 1)
        _ = try proxy.channel.finish(acceptAlreadyClosed: true)
        #expect(transfer.cancelled)
        #expect(transfer.sink == nil)
        #expect(proxy.service.inFlight.load(ordering: .relaxed) == 0)
        #expect(proxy.handler.exchange == nil)
    }

    @Test func upstreamFailingBeforeTheHead_isAnsweredWithOutriggersError() throws {
        let proxy = try EmbeddedProxy()
        defer { proxy.finish() }
        try proxy.send(.POST, "/", headers: [("content-length", "0")])  // not idempotent: no retry
        let transfer = try #require(proxy.transfer)
        let error = OutriggerError(.upstreamConnectFailed, "connection refused", service: "svc")
        proxy.handler.transfer(transfer, didFail: error, responseStarted: false)
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 502 "))
        #expect(output.contains("x-outrigger-error: upstream_connect_failed\r\n"))
        #expect(proxy.channel.isActive)  // a complete answer: the connection is kept
        #expect(proxy.service.inFlight.load(ordering: .relaxed) == 0)
    }

    @Test func upstreamFailingAfterTheHead_cutsTheConnection() throws {
        let proxy = try EmbeddedProxy()
        defer { proxy.finish() }
        try proxy.send()
        let transfer = try proxy.startResponse()
        let error = OutriggerError(.upstreamReset, "connection reset", service: "svc")
        proxy.handler.transfer(transfer, didFail: error, responseStarted: true)
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 200 OK"))
        #expect(!output.contains("x-outrigger-error"))  // nothing appended to the upstream's bytes
        #expect(!proxy.channel.isActive)
    }

    @Test func slowReader_pausesTheUpstream_andResumesWhenWritable() throws {
        let proxy = try EmbeddedProxy()
        defer { proxy.finish() }
        try proxy.send()
        let transfer = try #require(proxy.transfer)
        #expect(!transfer.curlShouldPauseReceive)
        proxy.channel.isWritable = false
        proxy.channel.pipeline.fireChannelWritabilityChanged()
        #expect(transfer.curlShouldPauseReceive)
        proxy.channel.isWritable = true
        proxy.channel.pipeline.fireChannelWritabilityChanged()
        #expect(!transfer.curlShouldPauseReceive)
    }

    @Test func perTryTimeout_onTheLoopClock_answers504() throws {
        let proxy = try EmbeddedProxy { policy in
            policy.retries.attempts = 0
            policy.retries.perTryTimeoutMs = 100
        }
        defer { proxy.finish() }
        try proxy.send()
        let transfer = try #require(proxy.transfer)
        proxy.advance(ms: 99)
        #expect(!transfer.cancelled)
        #expect(try proxy.output().isEmpty)
        proxy.advance(ms: 1)
        #expect(transfer.cancelled)
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 504 "))
        #expect(output.contains("x-outrigger-error: upstream_timeout\r\n"))
    }

    @Test func perTryTimeout_isRetriedOnAnotherTry() throws {
        let proxy = try EmbeddedProxy { policy in policy.retries.perTryTimeoutMs = 100 }
        defer { proxy.finish() }
        try proxy.send()
        let first = try #require(proxy.transfer)
        proxy.advance(ms: 100)
        #expect(first.cancelled)
        #expect(try proxy.output().isEmpty)  // a retry is scheduled, nothing answered yet
        let second = try #require(proxy.nextTry(after: first))
        #expect(second !== first)
        try proxy.respond(200, "late but fine")
        #expect(try proxy.output().contains("late but fine"))
        #expect(proxy.handler.exchange == nil)
    }

    @Test func idleTimeout_countsFromTheLastByte_onTheLoopClock() throws {
        let proxy = try EmbeddedProxy { policy in policy.idleTimeoutMs = 200 }
        defer { proxy.finish() }
        try proxy.send()
        let transfer = try proxy.startResponse()
        proxy.advance(ms: 150)
        transfer.touch(now: proxy.loop.now)  // a byte moved at 150 ms
        proxy.advance(ms: 50)
        #expect(!transfer.cancelled)  // 200 ms after the start, but only 50 ms after the last byte
        proxy.advance(ms: 149)
        #expect(!transfer.cancelled)
        proxy.advance(ms: 1)
        #expect(transfer.cancelled)
        #expect(!proxy.channel.isActive)  // the response had started: cut, not completed
    }

    @Test func heldRetryableResponse_isRetriedAndNeverSent() throws {
        let proxy = try EmbeddedProxy()
        defer { proxy.finish() }
        try proxy.send()
        let first = try #require(proxy.transfer)
        #expect(first.curlRequest.holdStatuses.contains(503))
        proxy.handler.transferDidFinish(
            first, status: 503, closeConnection: false, held: EmbeddedProxy.response(503, "busy"), grpcStatus: nil)
        #expect(try proxy.output().isEmpty)
        let second = try #require(proxy.nextTry(after: first))
        #expect(second !== first)
        try proxy.respond(200, "fine")
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 200 "))
        #expect(!output.contains("busy"))
    }

    @Test func heldResponse_isPassedOnWhenNoRetryIsLeft() throws {
        let proxy = try EmbeddedProxy { policy in policy.retries.attempts = 0 }
        defer { proxy.finish() }
        try proxy.send()
        let transfer = try #require(proxy.transfer)
        proxy.handler.transferDidFinish(
            transfer, status: 503, closeConnection: false, held: EmbeddedProxy.response(503, "busy"), grpcStatus: nil)
        let output = try proxy.output()
        #expect(output.hasPrefix("HTTP/1.1 503 "))
        #expect(output.hasSuffix("busy"))
    }
}
