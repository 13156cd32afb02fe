import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import Testing

@testable import OutriggerCore

@Suite("HTTP/2 and gRPC without sockets (SPEC §10)")
struct HTTP2Tests {
    static func feed(_ parser: inout H1ResponseParser, _ text: String) throws -> [HTTP2Frame.FramePayload] {
        var buffer = ByteBuffer(string: text)
        return try parser.feed(&buffer)
    }

    static func describe(_ frames: [HTTP2Frame.FramePayload]) -> [String] {
        frames.map { frame in
            switch frame {
            case .headers(let headers):
                let fields = headers.headers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
                return "HEADERS[\(fields)]\(headers.endStream ? " END" : "")"
            case .data(let data):
                guard case .byteBuffer(let buffer) = data.data else { return "DATA?" }
                return "DATA[\(String(buffer: buffer))]\(data.endStream ? " END" : "")"
            default:
                return "other"
            }
        }
    }

    @Test func contentLengthResponse_becomesHeadersAndData_endingWithTheLastByte() throws {
        var parser = H1ResponseParser()
        var frames = try Self.feed(
            &parser, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\ncontent-length: 5\r\n\r\nhel")
        frames += try Self.feed(&parser, "lo")
        #expect(
            Self.describe(frames) == [
                "HEADERS[:status=200,content-type=text/plain,content-length=5]", "DATA[hel]", "DATA[lo] END",
            ])
        #expect(parser.isDone)
    }

    @Test func chunkedResponse_isUnframed_andItsTrailersEndTheStream() throws {
        var parser = H1ResponseParser()
        // Split at awkward places: inside the size line, inside the data, inside the trailers.
        var frames: [HTTP2Frame.FramePayload] = []
        for piece in [
            "HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ntransfer-encoding: chunked\r\n\r\n", "5",
            "\r\nhel", "lo\r\n0\r\ngrpc-sta", "tus: 0\r\ngrpc-message: \r\n\r\n",
        ] {
            frames += try Self.feed(&parser, piece)
        }
        #expect(
            Self.describe(frames) == [
                "HEADERS[:status=200,content-type=application/grpc]", "DATA[hel]", "DATA[lo]",
                "HEADERS[grpc-status=0,grpc-message=] END",
            ])
    }

    @Test func interimHeads_areDropped_andTrailersOnlyIsOneHeadersFrame() throws {
        var parser = H1ResponseParser()
        let frames = try Self.feed(
            &parser,
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ngrpc-status: 14\r\ncontent-length: 0\r\n\r\n")
        #expect(Self.describe(frames) == ["HEADERS[:status=200,grpc-status=14,content-length=0] END"])
        var head = H1ResponseParser()
        head.isHeadRequest = true
        #expect(
            Self.describe(try Self.feed(&head, "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n")) == [
                "HEADERS[:status=200,content-length=9] END"
            ])
    }

    @Test func aBodyReadToTheClose_endsWhenTheStreamCloses() throws {
        var parser = H1ResponseParser()
        let frames = try Self.feed(&parser, "HTTP/1.1 200 OK\r\n\r\nsome")
        #expect(Self.describe(frames) == ["HEADERS[:status=200]", "DATA[some]"])
        #expect(parser.closing().map { Self.describe([$0]) } == ["DATA[] END"])
        #expect(parser.closing() == nil)
    }

    @Test func badStatusLinesAndChunkSizes_areErrors() {
        var parser = H1ResponseParser()
        #expect(throws: H1ResponseError.self) { try Self.feed(&parser, "HTTP/1.1 2x0 OK\r\n\r\n") }
        var chunked = H1ResponseParser()
        #expect(throws: H1ResponseError.self) {
            try Self.feed(&chunked, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n")
        }
    }

    @Test func requestHead_mapsPseudoHeaders_joinsCookies_andFramesUnknownBodies() throws {
        let headers = HPACKHeaders([
            (":method", "POST"), (":scheme", "http"), (":path", "/a?b=1"), (":authority", "orders"),
            ("cookie", "a=1"), ("cookie", "b=2"), ("content-type", "application/grpc"),
        ])
        let head = try #require(H2StreamAdapter.requestHead(headers, endStream: false))
        #expect(head.method == .POST && head.uri == "/a?b=1" && head.version.major == 2)
        #expect(head.headers["host"] == ["orders"])
        #expect(head.headers["cookie"] == ["a=1; b=2"])
        #expect(head.headers["transfer-encoding"] == ["chunked"])
        let get = try #require(
            H2StreamAdapter.requestHead(HPACKHeaders([(":method", "GET"), (":path", "/")]), endStream: true))
        #expect(get.headers["transfer-encoding"].isEmpty)
        #expect(H2StreamAdapter.requestHead(HPACKHeaders([(":method", "GET")]), endStream: true) == nil)
        #expect(
            H2StreamAdapter.requestHead(
                HPACKHeaders([(":method", "GET"), (":path", "/"), (":bogus", "x")]), endStream: true)
                == nil)
    }

    @Test func theConnectionPreface_decidesTheProtocol() {
        let preface = ByteBuffer(bytes: ProtocolSniffer.preface)
        #expect(ProtocolSniffer.decide(preface.readableBytesView) == .http2)
        #expect(ProtocolSniffer.decide(ByteBuffer(string: "PRI * HT").readableBytesView) == nil)
        #expect(ProtocolSniffer.decide(ByteBuffer(string: "GET / HTTP/1.1\r\n").readableBytesView) == .http1)
        #expect(ProtocolSniffer.decide(ByteBuffer(string: "PRI * HTTP/1.1").readableBytesView) == .http1)
    }

    @Test func grpcTimeout_andStatuses_followTheGRPCSpec() {
        #expect(ProxyHandler.grpcTimeoutMs("250m") == 250)
        #expect(ProxyHandler.grpcTimeoutMs("2S") == 2000)
        #expect(ProxyHandler.grpcTimeoutMs("1M") == 60_000)
        #expect(ProxyHandler.grpcTimeoutMs("1H") == 3_600_000)
        #expect(ProxyHandler.grpcTimeoutMs("500u") == 1)
        #expect(ProxyHandler.grpcTimeoutMs("5") == nil)
        #expect(ProxyHandler.grpcTimeoutMs("123456789S") == nil)  // more than 8 digits
        #expect(ProxyHandler.grpcTimeoutMs("10x") == nil)
        var policy = ServicePolicy()
        policy.requestTimeoutMs = 15_000
        #expect(ProxyHandler.deadline(policy: policy, header: nil, grpcTimeout: "100m", nowMs: 1000) == 1100)
        #expect(ProxyHandler.deadline(policy: policy, header: nil, grpcTimeout: "1H", nowMs: 1000) == 16_000)

        #expect(OutriggerError.Code.breakerOpen.grpcStatus == 14)
        #expect(OutriggerError.Code.noEndpoints.grpcStatus == 14)
        #expect(OutriggerError.Code.upstreamReset.grpcStatus == 14)
        #expect(OutriggerError.Code.upstreamTimeout.grpcStatus == 4)
        #expect(OutriggerError.Code.overloaded.grpcStatus == 8)
        #expect(OutriggerError.Code.unknownService.grpcStatus == 12)
        #expect(ErrorResponder.percentEncoded("50% off\nnow é") == "50%25 off%0Anow %C3%A9")
        let answer = ErrorResponder.grpcResponse(
            for: OutriggerError(.breakerOpen, "open"), requestID: "r", close: false, allocator: ByteBufferAllocator())
        #expect(
            String(buffer: answer)
                == "HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\ngrpc-status: 14\r\ngrpc-message: open\r\n"
                + "x-outrigger-error: breaker_open\r\nx-request-id: r\r\ncontent-length: 0\r\n\r\n")
    }

    @Test func numericHeaderValues_areClamped_neverOverflow() {
        #expect(HeaderNames.decimal(Array("14".utf8), limit: 1 << 20) == 14)
        #expect(HeaderNames.decimal(Array(" 1 4 ".utf8), limit: 1 << 20) == 14)
        #expect(HeaderNames.decimal(Array(String(repeating: "9", count: 40).utf8), limit: 1 << 20) == 1 << 20)
        var builder = ResponseHeadBuilder()
        var head: ResponseHeadBuilder.Head?
        for line in ["HTTP/2 200 \r\n", "grpc-status: \(String(repeating: "9", count: 40))\r\n", "\r\n"] {
            let result = Array(line.utf8).withUnsafeBytes { builder.feed(line: $0) }
            if case .success(let built) = result { head = built }
        }
        #expect(head?.grpcStatus == 1 << 20)
    }

    @Test func grpcCalls_areRecognisedByContentType_inAnyCase() {
        #expect(Exchange.isGRPCContentType("application/grpc"))
        #expect(Exchange.isGRPCContentType("Application/GRPC+proto"))
        #expect(!Exchange.isGRPCContentType("application/json"))
        #expect(!Exchange.isGRPCContentType("application/grp"))
    }

    @Test func grpcUnavailable_isAFailure_retriedOnlyWhenAsked() {
        #expect(UpstreamFailure.of(status: 200, grpcStatus: 14) == .grpcUnavailable)
        #expect(UpstreamFailure.of(status: 200, grpcStatus: 0) == nil)
        #expect(UpstreamFailure.of(status: 503, grpcStatus: 14) == .status(503))
        #expect(UpstreamFailure.grpcUnavailable.matches([.unavailable]))
        #expect(!UpstreamFailure.grpcUnavailable.matches([.status(503), .reset]))
        #expect(RetryPolicy.Condition("unavailable") == .unavailable)
    }
}
