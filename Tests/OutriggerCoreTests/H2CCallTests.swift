import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import Testing

@testable import OutriggerCore

/// What an h2c call told its handler.
final class RecordingSink: TransferSink {
    var produced = ""
    var finished: (status: Int, held: String?, grpcStatus: Int?)?
    var failed: OutriggerError?
    var wantsMoreBody = 0

    func transfer(_ transfer: any UpstreamCall, didProduce bytes: ByteBuffer) {
        self.produced += String(buffer: bytes)
        transfer.consumed(bytes.readableBytes)
    }
    func transferWantsMoreBody(_ transfer: any UpstreamCall) { self.wantsMoreBody += 1 }
    func transferDidFinish(
        _ transfer: any UpstreamCall, status: Int, closeConnection: Bool, held: ByteBuffer?, grpcStatus: Int?
    ) {
        self.finished = (status, held.map { String(buffer: $0) }, grpcStatus)
    }
    func transfer(_ transfer: any UpstreamCall, didFail error: OutriggerError, responseStarted: Bool) {
        self.failed = error
    }
    func transfer(_ transfer: any UpstreamCall, didConnect descriptor: Int32) {}
}

/// An h2c call on an embedded stream channel: its frames out are read back, the upstream's frames fed in.
struct EmbeddedH2CCall {
    let channel: EmbeddedChannel
    let call: H2CCall
    let sink = RecordingSink()

    init(
        method: String = "GET", headers: [(String, String)] = [("Host", "svc")], body: UpstreamRequest.Body = .none,
        holdStatuses: [Int] = []
    ) throws {
        var head = HTTPHeaders()
        for (name, value) in headers { head.add(name: name, value: value) }
        let endpoint = try Endpoint.parse("127.0.0.1:50051").get()
        let request = H2CRequest(
            method: method, target: "/pkg.Svc/Call?x=1", endpoint: endpoint,
            rules: .init(headers: head, clientAddress: "10.0.0.1", requestID: "rid-1", upstreamIsHTTP2: true),
            body: body,
            framing: .init(isHead: false, clientIsHTTP11: true, keepAlive: true, requestID: "rid-1"),
            holdStatuses: holdStatuses, holdsGRPCUnavailable: false)
        self.channel = EmbeddedChannel()
        self.call = H2CCall(
            request: request, eventLoop: self.channel.eventLoop, service: "svc", endpoint: "127.0.0.1:50051",
            measuresIdle: false)
        self.call.sink = self.sink
        try self.channel.pipeline.syncOperations.addHandler(self.call)
    }

    /// Closes the channel: the pipeline and the call's context hold each other until then.
    func finish() {
        _ = try? self.channel.finish(acceptAlreadyClosed: true)
    }

    func activate() throws {
        try self.channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 50051)).wait()
    }

    func sent() throws -> [String] {
        var frames: [HTTP2Frame.FramePayload] = []
        while let frame = try self.channel.readOutbound(as: HTTP2Frame.FramePayload.self) { frames.append(frame) }
        return HTTP2Tests.describe(frames)
    }

    func receive(headers: [(String, String)], end: Bool = false) throws {
        try self.channel.writeInbound(
            HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(headers), endStream: end)))
    }

    func receive(data: String, end: Bool = false) throws {
        try self.channel.writeInbound(
            HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: data)), endStream: end)))
    }
}

@Suite("h2c calls on an embedded stream (SPEC §10)")
struct H2CCallTests {
    @Test func request_goesOutAsOneHeadersFrameWithPseudoHeadersFirst() throws {
        let call = try EmbeddedH2CCall(headers: [
            ("Host", "orders"), ("X-Thing", "A"), ("Connection", "x-drop"), ("X-Drop", "1"),
        ])
        defer { call.finish() }
        try call.activate()
        let sent = try call.sent()
        #expect(sent.count == 1)
        let frame = try #require(sent.first)
        #expect(
            frame.hasPrefix("HEADERS[:method=GET,:scheme=http,:authority=orders,:path=/pkg.Svc/Call?x=1,x-thing=A,"))
        #expect(frame.hasSuffix(" END"))
        #expect(!frame.contains(",host=") && !frame.contains("x-drop") && !frame.contains("connection"))
        #expect(frame.contains("x-forwarded-host=orders"))
        #expect(frame.contains("x-forwarded-for=10.0.0.1") && frame.contains("x-request-id=rid-1"))
    }

    @Test func bodyQueuedBeforeTheStreamOpens_followsTheHeadWithEndStreamOnTheLastFrame() throws {
        let call = try EmbeddedH2CCall(method: "POST", body: .chunked)
        defer { call.finish() }
        #expect(!call.call.appendBody(ByteBuffer(string: "ab")))
        #expect(!call.call.appendBody(ByteBuffer(string: "cd")))
        call.call.endBody()
        try call.activate()
        let sent = try call.sent()
        #expect(sent.count == 3)
        #expect(sent[0].hasPrefix("HEADERS[:method=POST") && !sent[0].hasSuffix(" END"))
        #expect(sent[1] == "DATA[ab]" && sent[2] == "DATA[cd] END")
        // Once open, bytes go at once, and the end is an empty DATA frame with END_STREAM.
        _ = call.call.appendBody(ByteBuffer(string: "late"))
        #expect(try call.sent() == [])  // already ended: nothing more is sent
    }

    @Test func responseOfUnknownLength_isChunkedWithTheTrailersInTheLastChunk() throws {
        let call = try EmbeddedH2CCall(headers: [("Host", "svc"), ("TE", "trailers")])
        defer { call.finish() }
        try call.activate()
        #expect(try call.sent().first?.contains("te=trailers") == true)
        try call.receive(headers: [(":status", "200"), ("content-type", "application/grpc")])
        try call.receive(data: "hello")
        try call.receive(headers: [("grpc-status", "0"), ("x-custom", "v")], end: true)
        #expect(
            call.sink.produced
                == "HTTP/1.1 200 \r\ncontent-type: application/grpc\r\nx-request-id: rid-1\r\n"
                + "transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\ngrpc-status: 0\r\nx-custom: v\r\n\r\n")
        #expect(call.sink.finished?.status == 200 && call.sink.finished?.grpcStatus == 0)
    }

    @Test func interimHeadersAreSwallowed_andALengthIsPassedOn() throws {
        let call = try EmbeddedH2CCall()
        defer { call.finish() }
        try call.activate()
        try call.receive(headers: [(":status", "103"), ("link", "</a>")])
        try call.receive(headers: [(":status", "404"), ("content-length", "2")])
        try call.receive(data: "no", end: true)
        #expect(call.sink.produced == "HTTP/1.1 404 \r\ncontent-length: 2\r\nx-request-id: rid-1\r\n\r\nno")
        #expect(call.sink.finished?.status == 404)
    }

    @Test func aStatusToHold_isHandedOverWholeAtTheEnd() throws {
        let call = try EmbeddedH2CCall(holdStatuses: [503])
        defer { call.finish() }
        try call.activate()
        try call.receive(headers: [(":status", "503"), ("content-length", "4")])
        try call.receive(data: "busy", end: true)
        #expect(call.sink.produced == "")
        #expect(call.sink.finished?.held?.hasSuffix("\r\n\r\nbusy") == true)
    }

    @Test func aResetStream_failsAsUpstreamReset() throws {
        let call = try EmbeddedH2CCall()
        defer { call.finish() }
        try call.activate()
        try call.channel.writeInbound(HTTP2Frame.FramePayload.rstStream(.internalError))
        try call.channel.close().wait()
        #expect(call.sink.failed?.code == .upstreamReset)
        #expect(call.sink.failed?.detail?.contains("RST_STREAM") == true)
    }

    @Test func dataBeforeAHead_isAProtocolError() throws {
        let call = try EmbeddedH2CCall()
        defer { call.finish() }
        try call.activate()
        try call.receive(data: "x")
        #expect(call.sink.failed?.code == .upstreamProtocolError)
    }

    @Test func aCancelledCall_reportsNothingAndResetsItsStream() throws {
        let call = try EmbeddedH2CCall()
        defer { call.finish() }
        try call.activate()
        _ = try call.sent()
        call.call.cancel()
        try call.receive(headers: [(":status", "200")], end: true)
        #expect(call.sink.finished == nil && call.sink.failed == nil)
        #expect(!call.channel.isActive)
    }
}
