import CCurl
import NIOCore
import NIOHTTP1
import Testing

@testable import OutriggerCore

@Suite("Header rules without sockets")
struct HeaderRulesTests {
    static let framing = UpstreamRequest.ClientFraming(
        isHead: false, clientIsHTTP11: true, keepAlive: true, requestID: "rid")

    func lines(_ list: UnsafeMutablePointer<curl_slist>?) -> [String] { Self.drain(list) }

    /// The lines of a curl header list, which it frees.
    static func drain(_ list: UnsafeMutablePointer<curl_slist>?) -> [String] {
        defer { CurlHeaderList.free(list) }
        return CurlHeaderList.lines(of: list)
    }

    @Test func requestHeaders_dropHopByHop_appendForwarded_suppressCurlDefaults() {
        let headers = HTTPHeaders([
            ("Host", "svc"), ("Connection", "X-Drop"), ("X-Drop", "1"), ("X-Forwarded-For", "1.1.1.1"),
            ("X-Empty", ""), ("Expect", "100-continue"), ("x-request-id", "bad id"),
        ])
        let list = RequestHeaderRules.curlHeaders(
            .init(headers: headers, clientAddress: "10.0.0.9", requestID: "new-id"))
        #expect(
            self.lines(list) == [
                "Host: svc", "X-Forwarded-For: 1.1.1.1, 10.0.0.9", "X-Empty;", "x-request-id: new-id",
                "X-Forwarded-Proto: http", "X-Forwarded-Host: svc", "Accept:", "Expect:",
            ])
    }

    func feed(_ lines: [String], framing: UpstreamRequest.ClientFraming = Self.framing) -> ResponseHeadBuilder.Head? {
        var builder = ResponseHeadBuilder()
        for line in lines {
            var bytes = Array(line.utf8)
            let result = bytes.withUnsafeMutableBytes {
                builder.feed(line: UnsafeRawBufferPointer($0), framing: framing, allocator: ByteBufferAllocator())
            }
            if case .success(let head) = result { return head }
        }
        return nil
    }

    @Test func responseHead_skipsInterimBlocks_andRechunksUnknownLength() throws {
        let head = try #require(
            self.feed(["HTTP/1.1 100 Continue\r\n", "\r\n", "HTTP/1.1 200 Fine\r\n", "X-A: 1\r\n", "\r\n"]))
        #expect(head.status == 200)
        #expect(head.framing == .chunked)
        #expect(
            String(buffer: head.bytes)
                == "HTTP/1.1 200 Fine\r\nX-A: 1\r\nx-request-id: rid\r\ntransfer-encoding: chunked\r\n\r\n")
    }

    @Test func responseHead_forHTTP10Client_isCloseDelimited() throws {
        var framing = Self.framing
        framing.clientIsHTTP11 = false
        let head = try #require(self.feed(["HTTP/1.1 200 OK\r\n", "\r\n"], framing: framing))
        #expect(head.framing == .closeDelimited)
        #expect(head.closeConnection)
    }

    @Test func responseHead_rejectsGarbage() {
        var builder = ResponseHeadBuilder()
        var bytes = Array("garbage\r\n".utf8)
        let result = bytes.withUnsafeMutableBytes {
            builder.feed(line: UnsafeRawBufferPointer($0), framing: Self.framing, allocator: ByteBufferAllocator())
        }
        guard case .failure = result else {
            Issue.record("accepted a header line before any status line")
            return
        }
    }

    @Test func requestBodyFraming_followsRFC9112() throws {
        #expect(try ProxyHandler.bodyFraming(HTTPHeaders([("Content-Length", "5")])).get() == .length(5))
        #expect(try ProxyHandler.bodyFraming(HTTPHeaders([("Transfer-Encoding", "gzip, chunked")])).get() == .chunked)
        #expect(try ProxyHandler.bodyFraming(HTTPHeaders()).get() == UpstreamRequest.Body.none)
        for bad in [
            [("Content-Length", "5"), ("Transfer-Encoding", "chunked")], [("Transfer-Encoding", "gzip")],
            [("Content-Length", "5"), ("Content-Length", "6")], [("Content-Length", "-1")],
        ] {
            #expect(throws: OutriggerError.self) { try ProxyHandler.bodyFraming(HTTPHeaders(bad)).get() }
        }
    }

    @Test func requestID_sanityRules() {
        #expect(RequestID.isSane("abc-123"))
        #expect(!RequestID.isSane(""))
        #expect(!RequestID.isSane("has space"))
        #expect(!RequestID.isSane(String(repeating: "a", count: 129)))
        var random = FastRandom()
        let id = RequestID.generate(using: &random)
        #expect(id.count == 36)
        #expect(Array(id)[14] == "4")
    }

    @Test func curlErrors_mapToSpecCodes() {
        func code(_ c: CURLcode, connected: Bool = false) -> OutriggerError.Code? {
            CurlErrorMapping.error(for: c, connected: connected, message: "", service: "s")?.code
        }
        #expect(code(CURLE_OK) == nil)
        #expect(code(CURLE_COULDNT_CONNECT) == .upstreamConnectFailed)
        #expect(code(CURLE_OPERATION_TIMEDOUT) == .upstreamConnectTimeout)
        #expect(code(CURLE_OPERATION_TIMEDOUT, connected: true) == .upstreamTimeout)
        #expect(code(CURLE_GOT_NOTHING, connected: true) == .upstreamReset)
        #expect(code(CURLE_RECV_ERROR, connected: true) == .upstreamReset)
        #expect(code(CURLE_WEIRD_SERVER_REPLY, connected: true) == .upstreamProtocolError)
        // SPEC §18: TLS failures are their own code, and a connect failure for the breaker and retry_on.
        #expect(code(CURLE_PEER_FAILED_VERIFICATION) == .upstreamTLSError)
        #expect(code(CURLE_SSL_CONNECT_ERROR) == .upstreamTLSError)
        #expect(code(CURLE_SSL_CACERT_BADFILE) == .upstreamTLSError)
        // TLS 1.3: a refused client certificate arrives as an alert on the first read.
        let alert = "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0"
        #expect(
            CurlErrorMapping.error(for: CURLE_RECV_ERROR, connected: true, message: alert, service: "s")?.code
                == .upstreamTLSError)
        #expect(
            CurlErrorMapping.error(
                for: CURLE_RECV_ERROR, connected: true, message: "Connection reset by peer", service: "s")?.code
                == .upstreamReset)
        let tls = OutriggerError.Code.upstreamTLSError
        #expect(tls.status == 502)
        #expect(tls.retryConditions == [.connectFailure])
        #expect(tls.isConnectFailure && tls.isUpstreamFailure)
    }
}

@Suite("Curl header list in one block")
struct CurlHeaderListTests {
    @Test func linesComeBackInOrder_emptyValuesWithASemicolon() {
        var list = CurlHeaderList(capacity: 8)  // too small on purpose: the builder grows
        list.append(name: "Host", value: "svc")
        list.append(name: "X-Empty", value: "")
        list.append(line: "Expect:")
        #expect(HeaderRulesTests.drain(list.build()) == ["Host: svc", "X-Empty;", "Expect:"])
    }

    @Test func aNulByteEndsTheValue_asInTheCStringCurlReads() {
        // Found by FuzzHeaderRules: a NUL inside a value must not shift the lines after it.
        var list = CurlHeaderList(capacity: 64)
        list.append(name: "X-Drop", value: "a\u{0}b")
        list.append(name: "N\u{0}ame", value: "v")
        list.append(name: "After", value: "ok")
        #expect(HeaderRulesTests.drain(list.build()) == ["X-Drop: a", "N: v", "After: ok"])
    }

    @Test func anEmptyListIsNil() {
        #expect(CurlHeaderList(capacity: 0).build() == nil)
    }
}
