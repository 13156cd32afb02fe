import NIOCore
import Testing

@testable import OutriggerCore

/// Bodies stream both ways with bounded memory, and a slow side slows the other (SPEC §4).
@Suite("Streaming and backpressure (SPEC §4)")
struct StreamingTests {
    static let size = 64 * 1024 * 1024

    static func expectedChecksum(size: Int) -> Checksum {
        var checksum = Checksum()
        var offset = 0
        while offset < size {
            let n = min(64 * 1024, size - offset)
            Pattern.chunk(offset: offset, size: n).withUnsafeBytes { checksum.update($0) }
            offset += n
        }
        return checksum
    }

    @Test func largeDownload_arrivesWhole() async throws {
        let size = Self.size
        try await withProxy(behaviour: { _ in
            .stream(head: "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n", total: size)
        }) {
            _, proxy in
            let client = try await proxy.client()
            try await client.send("GET /big HTTP/1.1\r\nHost: svc\r\n\r\n")
            try await client.waitUntil("the response head") {
                WireParser.find($0.received, [13, 10, 13, 10], from: 0) != nil
            }
            // From here on, fold body bytes into a checksum instead of keeping them.
            client.state.withLockedValue { state in
                let headEnd = WireParser.find(state.received, [13, 10, 13, 10], from: 0)! + 4
                state.received[headEnd...].withUnsafeBytes { state.checksum.update($0) }
                state.received.removeSubrange(headEnd...)
                state.hashing = true
            }
            try await client.waitUntil(timeout: .seconds(60), "the whole body") { $0.checksum.count >= size }
            let got = client.state.withLockedValue { $0.checksum }
            #expect(got == Self.expectedChecksum(size: size))
            await client.close()
        }
    }

    @Test func largeUpload_arrivesWhole() async throws {
        let size = Self.size
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            try await client.send("PUT /big HTTP/1.1\r\nHost: svc\r\nx-test-sink: 1\r\nContent-Length: \(size)\r\n\r\n")
            var offset = 0
            while offset < size {
                let n = min(256 * 1024, size - offset)
                try await client.send(Pattern.chunk(offset: offset, size: n))
                offset += n
            }
            let response = try await client.readResponse(timeout: .seconds(60))
            let expected = Self.expectedChecksum(size: size)
            #expect(response.bodyText == "\(expected.count) \(expected.value)")
            #expect(upstream.requests.first?.value("content-length") == "\(size)")
            await client.close()
        }
    }

    @Test func slowClient_pausesTheUpstream_insteadOfBuffering_thenResumes() async throws {
        let size = 128 * 1024 * 1024
        try await withProxy(behaviour: { _ in
            .stream(head: "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n", total: size)
        }) {
            upstream, proxy in
            let client = try await RawClient.connect(port: proxy.port, autoRead: false)
            try await client.send("GET /big HTTP/1.1\r\nHost: svc\r\n\r\n")
            // The client reads nothing: the upstream must stall (no progress for a while) having sent only what
            // kernel buffers and Outrigger's fixed watermarks hold, far less than the body.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            var lastCount = -1
            var stableSince = clock.now
            while clock.now < deadline {
                let count = upstream.stats.withLockedValue { $0.bytesWritten }
                if count != lastCount {
                    lastCount = count
                    stableSince = clock.now
                } else if count > 0 && clock.now - stableSince > .milliseconds(500) {
                    break
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(clock.now < deadline, "the upstream never stalled")
            #expect(lastCount < 48 * 1024 * 1024, "upstream sent \(lastCount) bytes to a client reading nothing")
            // Now read: the transfer resumes and the whole body arrives intact.
            client.state.withLockedValue { $0.hashing = true }
            try await client.channel.setOption(.autoRead, value: true)
            client.channel.read()
            let head = "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\nx-request-id: ".utf8.count
            try await client.waitUntil(timeout: .seconds(60), "the whole body") {
                $0.checksum.count >= size + head + 36 + 4
            }
            #expect(upstream.stats.withLockedValue { $0.bytesWritten } == size)
            await client.close()
        }
    }

    @Test func slowUpstream_pausesTheClientUpload_insteadOfBuffering() async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            let size = 512 * 1024 * 1024
            try await client.send(
                "PUT /stall HTTP/1.1\r\nHost: svc\r\nx-test-stall: 1\r\nContent-Length: \(size)\r\n\r\n")
            let chunk = [UInt8](repeating: 7, count: 256 * 1024)
            var accepted = 0
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            // Write until the proxy stops taking bytes (the client's socket stays unwritable).
            while accepted < size && clock.now < deadline {
                if !client.channel.isWritable {
                    let stalledSince = clock.now
                    while !client.channel.isWritable && clock.now - stalledSince < .milliseconds(500) {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                    if !client.channel.isWritable { break }
                }
                var buffer = client.channel.allocator.buffer(capacity: chunk.count)
                buffer.writeBytes(chunk)
                client.channel.writeAndFlush(buffer, promise: nil)
                accepted += chunk.count
            }
            #expect(!client.channel.isWritable, "the proxy kept accepting an upload its upstream does not read")
            #expect(accepted < 64 * 1024 * 1024, "client pushed \(accepted) bytes before being slowed")
            #expect(upstream.requests.count == 1)
            await client.close()
        }
    }
}
