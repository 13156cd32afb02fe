import Testing

@testable import OutriggerCore

/// One test per forwarding rule of SPEC §4, each comparing the bytes the upstream or the client really got.
@Suite("Transparency (SPEC §4)")
struct TransparencyTests {
    @Test func methodPathAndQuery_passByteForByte() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("PURGE /a//b/../c;p=1?x=1&y=%2F&z=%zz&&empty= HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(upstream.requests.first?.startLine == "PURGE /a//b/../c;p=1?x=1&y=%2F&z=%zz&&empty= HTTP/1.1")
            await client.close()
        }
    }

    @Test func headers_keepOrderCaseAndDuplicates() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send(
                "GET / HTTP/1.1\r\nHost: svc\r\nX-A: 1\r\nx-MiXeD: Case\r\nX-A: 2\r\nCookie: a=1\r\nCookie: b=2\r\n"
                    + "Accept: text/plain\r\nEmpty:\r\n\r\n")
            _ = try await client.readResponse()
            let names = try #require(upstream.requests.first).headers.map(\.name)
            #expect(Array(names.prefix(8)) == ["Host", "X-A", "x-MiXeD", "X-A", "Cookie", "Cookie", "Accept", "Empty"])
            let request = try #require(upstream.requests.first)
            #expect(request.values("x-a") == ["1", "2"])
            #expect(request.values("cookie") == ["a=1", "b=2"])
            #expect(request.values("empty") == [""])
            await client.close()
        }
    }

    @Test func hopByHopHeaders_areRemoved_includingThoseNamedInConnection() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send(
                "GET / HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n"
                    + "X-Secret: 1\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\n"
                    + "Proxy-Authorization: Basic Zm9v\r\nX-Kept: yes\r\n\r\n")
            _ = try await client.readResponse()
            let request = try #require(upstream.requests.first)
            for name in [
                "connection", "keep-alive", "x-secret", "te", "trailer", "upgrade", "proxy-connection",
                "proxy-authorization",
            ] {
                #expect(request.value(name) == nil, "\(name) reached the upstream")
            }
            #expect(request.value("x-kept") == "yes")
            await client.close()
        }
    }

    @Test func hostHeader_isKeptAsSent() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: SVC:8080\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
            #expect(upstream.requests.first?.values("host") == ["SVC:8080"])
            await client.close()
        }
    }

    @Test func forwardedHeaders_appendClientAndSetProtoAndHostWhenAbsent() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n")
            _ = try await client.readResponse()
            try await client.send(
                "GET / HTTP/1.1\r\nHost: svc\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: a.b\r\n\r\n")
            _ = try await client.readResponse()
            let first = upstream.requests[0]
            #expect(first.values("x-forwarded-for") == ["10.1.2.3, 127.0.0.1"])
            #expect(first.values("x-forwarded-proto") == ["http"])
            #expect(first.values("x-forwarded-host") == ["svc"])
            let second = upstream.requests[1]
            #expect(second.values("x-forwarded-for") == ["127.0.0.1"])
            #expect(second.values("x-forwarded-proto") == ["https"])
            #expect(second.values("x-forwarded-host") == ["a.b"])
            await client.close()
        }
    }

    @Test func libcurl_addsNothingOfItsOwn() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            let body = String(repeating: "x", count: 2 * 1024 * 1024)
            try await client.send("POST /up HTTP/1.1\r\nHost: svc\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(try await client.readResponse().status == 200)
            let request = try #require(upstream.requests.first)
            #expect(
                request.headerNames == [
                    "host", "content-length", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                    "x-request-id", "traceparent", "b3",
                ])
            #expect(request.body.count == body.utf8.count)
            await client.close()
        }
    }

    @Test func expect100Continue_isAnsweredByOutrigger_andNotForwarded() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("PUT /x HTTP/1.1\r\nHost: svc\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            let interim = try await client.readResponse()
            #expect(interim.status == 100)
            try await client.send("hello")
            #expect(try await client.readResponse().status == 200)
            let request = try #require(upstream.requests.first)
            #expect(request.value("expect") == nil)
            #expect(request.bodyText == "hello")
            await client.close()
        }
    }

    @Test func responseStatusReasonHeadersAndBody_passVerbatim() async throws {
        let raw =
            "HTTP/1.1 299 Quite Fine Indeed\r\nX-Z: 1\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Empty: \r\n"
            + "Content-Length: 11\r\n\r\nhello world"
        try await withProxy(behaviour: { _ in .respond(Array(raw.utf8)) }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.startLine == "HTTP/1.1 299 Quite Fine Indeed")
            #expect(
                Array(response.headers.map(\.name).prefix(5)) == [
                    "X-Z", "Set-Cookie", "set-cookie", "X-Empty", "Content-Length",
                ])
            #expect(response.values("set-cookie") == ["a=1", "b=2"])
            #expect(response.bodyText == "hello world")
            #expect(response.value("x-request-id") != nil)
            await client.close()
        }
    }

    @Test func contentEncoding_isNeverDecoded() async throws {
        let gzipBytes: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x86,
            0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
        ]
        let head = "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(gzipBytes.count)\r\n\r\n"
        try await withProxy(behaviour: { _ in .respond(Array(head.utf8) + gzipBytes) }) { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\nAccept-Encoding: gzip\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.body == gzipBytes)
            #expect(response.value("content-encoding") == "gzip")
            #expect(upstream.requests.first?.value("accept-encoding") == "gzip")
            await client.close()
        }
    }

    @Test func redirects_arePassedBack_notFollowed() async throws {
        try await withProxy(behaviour: { _ in .text("302 Found", headers: [("Location", "http://svc/elsewhere")]) }) {
            upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET /start HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 302)
            #expect(response.value("location") == "http://svc/elsewhere")
            #expect(upstream.requests.count == 1)
            await client.close()
        }
    }

    @Test func head_isAnsweredWithoutBody_andTheConnectionStaysUsable() async throws {
        try await withProxy(behaviour: { request in
            request.startLine.hasPrefix("HEAD")
                ? .respond(Array("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".utf8)) : .text(body: "second")
        }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("HEAD / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let head = try await client.readResponse(head: true)
            #expect(head.value("content-length") == "1000")
            #expect(head.body.isEmpty)
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "second")
            await client.close()
        }
    }

    @Test(arguments: ["204 No Content", "304 Not Modified"])
    func bodylessStatuses_carryNoBody(status: String) async throws {
        try await withProxy(behaviour: { request in
            request.startLine.contains("/first")
                ? .respond(Array("HTTP/1.1 \(status)\r\nETag: \"x\"\r\n\r\n".utf8)) : .text(body: "next")
        }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET /first HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.startLine == "HTTP/1.1 \(status)")
            #expect(response.value("transfer-encoding") == nil)
            #expect(response.value("etag") == "\"x\"")
            try await client.send("GET /next HTTP/1.1\r\nHost: svc\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "next")
            await client.close()
        }
    }

    @Test func interimResponses_areNotLeakedAsFinal() async throws {
        let raw =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
        try await withProxy(behaviour: { _ in .respond(Array(raw.utf8)) }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 201)
            #expect(response.bodyText == "done")
            await client.close()
        }
    }

    @Test func responseHopByHopHeaders_areRemoved() async throws {
        let raw =
            "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=3\r\nX-End: 2\r\n"
            + "Content-Length: 2\r\n\r\nok"
        try await withProxy(behaviour: { _ in .respond(Array(raw.utf8)) }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.value("x-hop") == nil)
            #expect(response.value("keep-alive") == nil)
            #expect(response.value("connection") == nil)
            #expect(response.value("x-end") == "2")
            await client.close()
        }
    }

    @Test func chunkedResponse_isRechunked_withTheSameBody() async throws {
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        try await withProxy(behaviour: { _ in .respond(Array(raw.utf8)) }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.value("transfer-encoding") == "chunked")
            #expect(response.bodyText == "hello world")
            await client.close()
        }
    }

    @Test func chunkedRequestBody_isStreamedChunked() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send(
                "POST /c HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
            let request = try #require(upstream.requests.first)
            #expect(request.bodyText == "abcdefg")
            #expect(request.value("transfer-encoding") == "chunked")
            #expect(request.value("content-length") == nil)
            await client.close()
        }
    }

    @Test func pipelinedRequests_areAnsweredInOrder_overOneUpstreamConnection() async throws {
        try await withProxy(behaviour: { request in .text(body: String(request.startLine.split(separator: " ")[1])) }) {
            upstream, proxy in
            let client = try await proxy.client()
            try await client.send(
                "GET /1 HTTP/1.1\r\nHost: svc\r\n\r\nGET /2 HTTP/1.1\r\nHost: svc\r\n\r\n"
                    + "POST /3 HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\n\r\nabcGET /4 HTTP/1.1\r\nHost: svc\r\n\r\n"
            )
            for expected in ["/1", "/2", "/3", "/4"] {
                #expect(try await client.readResponse().bodyText == expected)
            }
            #expect(upstream.connections == 1)
            await client.close()
        }
    }

    @Test func requestID_isKeptWhenSane_andMintedOtherwise() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\nX-Request-Id: abc-123\r\n\r\n")
            #expect(try await client.readResponse().value("x-request-id") == "abc-123")
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\nX-Request-Id: has space\r\n\r\n")
            let minted = try #require(try await client.readResponse().value("x-request-id"))
            #expect(minted.count == 36)
            #expect(upstream.requests[0].values("x-request-id") == ["abc-123"])
            #expect(upstream.requests[1].values("x-request-id") == [minted])
            await client.close()
        }
    }

    @Test func http10Client_getsACloseDelimitedBody() async throws {
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nold!\r\n0\r\n\r\n"
        try await withProxy(behaviour: { _ in .respond(Array(raw.utf8)) }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.0\r\nHost: svc\r\n\r\n")
            try await client.waitForClose()
            let response = try await client.readResponse()
            #expect(response.bodyText == "old!")
            #expect(response.value("transfer-encoding") == nil)
            await client.close()
        }
    }

    @Test func routes_matchByPathPrefix_andStripWhenAsked() async throws {
        let upstream = try await TestUpstream()
        let proxy = try await ProxyHarness.start(
            services: [("orders", ["127.0.0.1:\(upstream.port)"])],
            routes: [.init(pathPrefix: "/api/orders/", service: "orders", stripPrefix: true)])
        let client = try await proxy.client()
        try await client.send("GET /api/orders/42?x=1 HTTP/1.1\r\nHost: anything.example\r\n\r\n")
        #expect(try await client.readResponse().status == 200)
        #expect(upstream.requests.first?.startLine == "GET /42?x=1 HTTP/1.1")
        #expect(upstream.requests.first?.value("host") == "anything.example")
        await client.close()
        await proxy.stop()
        await upstream.stop()
    }

    @Test func upstreamSendingBothLengthAndChunked_isReframed_withoutContentLength() async throws {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        try await withProxy(behaviour: { _ in .respond(Array(raw.utf8)) }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.value("content-length") == nil)
            #expect(response.value("transfer-encoding") == "chunked")
            #expect(response.bodyText == "hello")
            await client.close()
        }
    }

    @Test func clientClosingMidRequest_cancelsTheUpstreamTransfer_andFreesItsSlot() async throws {
        // As nginx (proxy_ignore_client_abort off): a client that goes away aborts its request upstream.
        try await withProxy(behaviour: { _ in .hang }) { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            let service = try #require(proxy.server.state().services["svc"])
            try await upstream.waitForRequests()
            #expect(service.inFlight.load(ordering: .relaxed) == 1)
            try await client.channel.close(mode: .output)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while service.inFlight.load(ordering: .relaxed) != 0 && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(service.inFlight.load(ordering: .relaxed) == 0)
            await client.close()
        }
    }

    @Test func connect_isRefused_neverTunnelled() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("CONNECT svc:443 HTTP/1.1\r\nHost: svc:443\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.value("x-outrigger-error") == "bad_request")
            try await client.waitForClose()
            #expect(upstream.requests.isEmpty)
            await client.close()
        }
    }
}
