import NIOCore
import NIOPosix
import Testing

@testable import OutriggerCore

/// The errors Outrigger answers itself (SPEC §8), each provoked for real.
@Suite("Errors Outrigger makes itself (SPEC §8)")
struct ErrorResponseTests {
    /// Checks the SPEC §8 shape: status, `x-outrigger-error`, JSON body with the four fields.
    func expectError(_ response: WireMessage, status: Int, code: String, service: String? = nil) {
        #expect(response.status == status)
        #expect(response.value("x-outrigger-error") == code)
        #expect(response.value("content-type") == "application/json")
        let body = response.bodyText
        #expect(body.contains("\"error\":\"\(code)\""), "\(body)")
        #expect(body.contains("\"message\":\""))
        #expect(body.contains("\"request_id\":\"\(response.value("x-request-id") ?? "-")\""))
        if let service { #expect(body.contains("\"service\":\"\(service)\"")) }
    }

    @Test func unknownHost_is404_andNeverForwarded() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
            self.expectError(try await client.readResponse(), status: 404, code: "unknown_service")
            // Keep-alive survives a body-less request answered locally.
            try await client.send("GET http://evil.example/x HTTP/1.1\r\nHost: svc\r\n\r\n")
            self.expectError(try await client.readResponse(), status: 404, code: "unknown_service")
            #expect(upstream.requests.isEmpty)
            await client.close()
        }
    }

    @Test func absoluteFormTarget_routesByItsHost_andSendsOriginForm() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET http://svc:80/p?q=1 HTTP/1.1\r\nHost: svc\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
            #expect(upstream.requests.first?.startLine == "GET /p?q=1 HTTP/1.1")
            await client.close()
        }
    }

    @Test(arguments: [
        "POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: svc\r\nBad Header: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: svc\r\nHost: other\r\n\r\n",
        "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
        "NOT A REQUEST\r\n\r\n",
    ])
    func malformedRequests_are400_andNeverForwarded(raw: String) async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send(raw)
            let response = try await client.readResponse()
            self.expectError(response, status: 400, code: "bad_request")
            try await client.waitForClose()
            #expect(upstream.requests.isEmpty)
            await client.close()
        }
    }

    @Test func oversizedHead_is431() async throws {
        try await withProxy(configure: { config, _ in config.limits.maxRequestHeaderBytes = 2048 }) { upstream, proxy in
            let client = try await proxy.client()
            try await client.send(
                "GET / HTTP/1.1\r\nHost: svc\r\nX-Big: \(String(repeating: "a", count: 4000))\r\n\r\n")
            self.expectError(try await client.readResponse(), status: 431, code: "request_header_too_large")
            #expect(upstream.requests.isEmpty)
            await client.close()
        }
    }

    @Test func oversizedBody_is413_byContentLengthAndWhileStreaming() async throws {
        try await withProxy(configure: { config, _ in config.limits.maxRequestBodyBytes = 10 }) { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 11\r\n\r\nhello world")
            self.expectError(try await client.readResponse(), status: 413, code: "request_body_too_large")
            await client.close()
            let chunked = try await proxy.client()
            try await chunked.send(
                "POST / HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
            )
            self.expectError(try await chunked.readResponse(), status: 413, code: "request_body_too_large")
            try await chunked.waitForClose()
            await chunked.close()
            let fits = try await proxy.client()
            try await fits.send("POST / HTTP/1.1\r\nHost: svc\r\nContent-Length: 10\r\n\r\n0123456789")
            #expect(try await fits.readResponse().status == 200)
            #expect(upstream.requests.map(\.bodyText).contains("0123456789"))
            await fits.close()
        }
    }

    @Test func slowHead_is408() async throws {
        try await withProxy(configure: { config, _ in config.limits.headerReadTimeoutMs = 1000 }) { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: sv")
            self.expectError(try await client.readResponse(), status: 408, code: "request_header_timeout")
            try await client.waitForClose()
            #expect(upstream.requests.isEmpty)
            await client.close()
        }
    }

    @Test func idleKeepAliveConnection_isClosed() async throws {
        try await withProxy(configure: { config, _ in config.limits.clientIdleTimeoutMs = 150 }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
            try await client.waitForClose(timeout: .seconds(5))
            await client.close()
        }
    }

    @Test func connectionsBeyondTheLimit_areRefused() async throws {
        try await withProxy(configure: { config, _ in config.limits.maxConnections = 2 }) { _, proxy in
            let first = try await proxy.client()
            let second = try await proxy.client()
            try await first.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            #expect(try await first.readResponse().status == 200)
            let third = try await proxy.client()
            try await third.waitForClose()
            try await second.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            #expect(try await second.readResponse().status == 200)
            for client in [first, second, third] { await client.close() }
        }
    }

    @Test func refusedUpstream_is502ConnectFailed() async throws {
        let port = try await Self.closedPort()
        let proxy = try await ProxyHarness.start(services: [("svc", ["127.0.0.1:\(port)"])])
        let client = try await proxy.client()
        try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
        self.expectError(try await client.readResponse(), status: 502, code: "upstream_connect_failed", service: "svc")
        await client.close()
        await proxy.stop()
    }

    @Test func resetUpstream_is502Reset() async throws {
        try await withProxy(behaviour: { _ in .reset }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            self.expectError(try await client.readResponse(), status: 502, code: "upstream_reset", service: "svc")
            await client.close()
        }
    }

    @Test func upstreamClosingWithoutAnswer_is502Reset() async throws {
        try await withProxy(behaviour: { _ in .close }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            self.expectError(try await client.readResponse(), status: 502, code: "upstream_reset", service: "svc")
            await client.close()
        }
    }

    @Test func garbageFromUpstream_is502ProtocolError() async throws {
        try await withProxy(behaviour: { _ in .respondAndClose(Array("SSH-2.0-OpenSSH_9.2\r\n\r\n".utf8)) }) {
            _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            self.expectError(
                try await client.readResponse(), status: 502, code: "upstream_protocol_error", service: "svc")
            await client.close()
        }
    }

    @Test func silentUpstream_is504AfterRequestTimeout() async throws {
        try await withProxy(behaviour: { _ in .hang }, configure: { _, policy in policy.requestTimeoutMs = 300 }) {
            _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            self.expectError(try await client.readResponse(), status: 504, code: "upstream_timeout", service: "svc")
            await client.close()
        }
    }

    @Test func failureAfterTheResponseStarted_closesTheClientConnection() async throws {
        let raw = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b"
        try await withProxy(behaviour: { _ in .respondAndClose(Array(raw.utf8)) }) { _, proxy in
            let client = try await proxy.client()
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            try await client.waitForClose()
            let received = client.state.withLockedValue { String(decoding: $0.received, as: UTF8.self) }
            #expect(received.hasPrefix("HTTP/1.1 200 OK"))
            #expect(received.hasSuffix("only ten b"))
            await client.close()
        }
    }

    /// A port with nothing listening: connections are refused, and the number stays reserved for the test process
    /// (a port bound once and closed could be handed to another test's upstream meanwhile).
    static func closedPort() async throws -> Int {
        try RefusingPorts.make()
    }
}
