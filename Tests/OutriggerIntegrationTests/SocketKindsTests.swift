import Foundation
import Logging
import NIOCore
import Testing

@testable import OutriggerCore

/// Unix sockets on both sides, and upstream connection reuse (SPEC §2, §4).
@Suite("Socket kinds and connection reuse")
struct SocketKindsTests {
    static func temporaryPath(_ name: String) -> String {
        "\(NSTemporaryDirectory())outrigger-\(name)-\(UUID().uuidString.prefix(8)).sock"
    }

    @Test func unixEndpoint_isReached() async throws {
        let path = Self.temporaryPath("up")
        let upstream = try await TestUpstream(unixSocket: path) { _ in .text(body: "via unix") }
        let proxy = try await ProxyHarness.start(services: [("svc", ["unix:\(path)"])])
        let client = try await proxy.client()
        try await client.send("GET /u HTTP/1.1\r\nHost: svc\r\n\r\n")
        let response = try await client.readResponse()
        #expect(response.bodyText == "via unix")
        #expect(upstream.requests.first?.startLine == "GET /u HTTP/1.1")
        #expect(upstream.requests.first?.value("host") == "svc")
        await client.close()
        await proxy.stop()
        await upstream.stop()
    }

    @Test func unixListener_servesRequests() async throws {
        let upstream = try await TestUpstream()
        let path = Self.temporaryPath("listen")
        var config = OutriggerConfig()
        config.listen = .unix(path: path)
        config.workers = 1
        let registry = Registry(services: [
            ServiceConfig(name: "svc", endpoints: [try Endpoint.parse("127.0.0.1:\(upstream.port)").get()])
        ])
        let server = try await ProxyServer.start(
            state: ProxyState(loaded: LoadedConfig(config: config, registry: registry)), logger: Logger(label: "t"))
        let client = try await RawClient.connect(to: try SocketAddress(unixDomainSocketPath: path))
        try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
        #expect(try await client.readResponse().status == 200)
        #expect(upstream.requests.first?.value("x-forwarded-for") == nil)
        await client.close()
        await server.shutdown(drainTimeoutMs: 0)
        await upstream.stop()
    }

    @Test func upstreamConnections_areReusedAcrossRequestsAndClients() async throws {
        try await withProxy { upstream, proxy in
            for _ in 0..<3 {
                let client = try await proxy.client()
                for _ in 0..<5 {
                    try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
                    #expect(try await client.readResponse().status == 200)
                }
                await client.close()
            }
            #expect(upstream.requests.count == 15)
            #expect(upstream.connections == 1)
        }
    }

    @Test func roundRobin_spreadsRequestsOverEndpoints() async throws {
        let first = try await TestUpstream { _ in .text(body: "first") }
        let second = try await TestUpstream { _ in .text(body: "second") }
        let proxy = try await ProxyHarness.start(services: [
            ("svc", ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"])
        ])
        let client = try await proxy.client()
        var bodies: [String] = []
        for _ in 0..<4 {
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\n\r\n")
            bodies.append(try await client.readResponse().bodyText)
        }
        #expect(bodies == ["first", "second", "first", "second"])
        await client.close()
        await proxy.stop()
        await first.stop()
        await second.stop()
    }
}
