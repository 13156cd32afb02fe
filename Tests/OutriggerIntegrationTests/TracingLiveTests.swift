import Atomics
import Foundation
import Testing

@testable import OutriggerCore

/// SPEC §6 live: what the upstream sees, what the client gets back, and the access log line of each request.
@Suite("Tracing and access log live (SPEC §6)")
struct TracingLiveTests {
    static func readLines(_ path: String, count: Int) async throws -> [[String: Any]] {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n")
            if lines.count >= count {
                return try lines.map { line in
                    try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestTimeout(what: "\(count) access log lines")
    }

    @Test func upstreamSeesOneTrace_andTheAccessLogNamesIt() async throws {
        let path = NSTemporaryDirectory() + "outrigger-access-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try AccessLog(destination: .file(path))
        let upstream = try await TestUpstream { _ in .text(body: "traced") }
        let proxy = try await ProxyHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])], accessLog: log)
        let client = try await proxy.client()
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        try await client.send(
            "GET /a?b=1 HTTP/1.1\r\nHost: svc\r\ntraceparent: \(incoming)\r\ntracestate: k=v\r\nbaggage: u=1\r\n\r\n")
        let first = try await client.readResponse()
        try await client.send("GET /none HTTP/1.1\r\nHost: svc\r\n\r\n")
        let second = try await client.readResponse()
        try await client.send("GET /x HTTP/1.1\r\nHost: nowhere\r\n\r\n")
        let third = try await client.readResponse()
        #expect(third.status == 404)

        let seen = upstream.requests
        let sentParent = try #require(seen[0].value("traceparent"))
        #expect(sentParent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
        #expect(sentParent.hasSuffix("-01"))
        #expect(!sentParent.contains("00f067aa0ba902b7"), "Outrigger must send a span id of its own")
        #expect(seen[0].value("tracestate") == "k=v")
        #expect(seen[0].value("baggage") == "u=1")
        let newTrace = try #require(seen[1].value("traceparent"))
        #expect(try W3CTraceParent.parse(newTrace).get().traceID.count == 32)

        let lines = try await Self.readLines(path, count: 3)
        let fields = [
            "time", "client", "method", "path", "protocol", "service", "endpoint", "status", "bytes_in", "bytes_out",
            "duration_ms",
            "upstream_ms", "attempts", "error", "request_id", "trace_id", "span_id",
        ]
        for line in lines { #expect(Set(line.keys).isSuperset(of: fields), "\(line.keys.sorted())") }
        #expect(lines[0]["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(lines[0]["span_id"] as? String == String(sentParent.split(separator: "-")[2]))
        #expect(lines[0]["request_id"] as? String == first.value("x-request-id"))
        #expect(lines[0]["path"] as? String == "/a?b=1")
        #expect(lines[0]["status"] as? Int == 200)
        #expect(lines[0]["attempts"] as? Int == 1)
        #expect(lines[0]["endpoint"] as? String == "127.0.0.1:\(upstream.port)")
        #expect((lines[0]["bytes_out"] as? Int ?? 0) > 6)
        #expect(lines[1]["trace_id"] as? String == String(newTrace.split(separator: "-")[1]))
        #expect(lines[1]["request_id"] as? String == second.value("x-request-id"))
        #expect(lines[2]["status"] as? Int == 404)
        #expect(lines[2]["error"] as? String == "unknown_service")
        #expect(lines[2]["request_id"] as? String == third.value("x-request-id"))
        await client.close()
        await proxy.stop()
        await upstream.stop()
        log.shutdown()
    }

    /// SPEC §17: the flags byte goes upstream as received, every bit, not only "sampled".
    @Test(arguments: ["00", "01", "02", "03", "80", "ff", "a5"])
    func traceFlags_goUpstreamAsReceived(flags: String) async throws {
        try await withProxy { upstream, proxy in
            let client = try await proxy.client()
            let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\(flags)"
            try await client.send("GET / HTTP/1.1\r\nHost: svc\r\ntraceparent: \(incoming)\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            let sent = try #require(upstream.requests.first?.value("traceparent"))
            #expect(sent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
            #expect(sent.hasSuffix("-\(flags)"), "sent \(sent)")
            // B3 goes out with the W3C sampled bit.
            let b3 = try #require(upstream.requests.first?.value("b3"))
            #expect(b3.split(separator: "-")[2] == (UInt8(flags, radix: 16)! & 1 == 1 ? "1" : "0"))
            await client.close()
        }
    }

    @Test func accessLog_failedWrites_areCountedAsFailed_neverAsWritten() async throws {
        // /dev/full fails every write with ENOSPC.
        let log = try AccessLog(destination: .file("/dev/full"))
        let total = 500
        for index in 0..<total { log.log("line \(index)") }
        log.shutdown()  // the writer has handled every queued line when this returns
        #expect(log.written.load(ordering: .relaxed) == 0, "lines that hit ENOSPC were counted as written")
        #expect(log.failed.load(ordering: .relaxed) + log.dropped.load(ordering: .relaxed) == total)
        #expect(log.failed.load(ordering: .relaxed) > 0)
    }

    @Test func accessLog_neverBlocksTheCaller_whenItsWriterIsStuck_andCountsDrops() async throws {
        // A FIFO nobody reads: the writer thread blocks in write(2) once the pipe is full. Callers must not.
        let path = NSTemporaryDirectory() + "outrigger-fifo-\(UUID().uuidString)"
        #expect(mkfifo(path, 0o600) == 0)
        defer { unlink(path) }
        let reader = open(path, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        let log = try AccessLog(destination: .file(path))
        let line = String(repeating: "x", count: 200)
        let total = AccessLog.capacity * 3
        let done = ManagedAtomic(false)
        let caller = Thread {
            for _ in 0..<total { log.log(line) }
            done.store(true, ordering: .relaxed)
        }
        caller.start()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while !done.load(ordering: .relaxed) {
            if clock.now > deadline {
                Issue.record("log() blocked behind a stuck writer")
                break
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        // At most `capacity` lines wait in the queue, one batch of at most `capacity` is stuck in write(2), and the
        // pipe took a few hundred lines (64 KiB) before that: everything else was dropped, and counted.
        let dropped = log.dropped.load(ordering: .relaxed)
        let pipeLines = 65_536 / (line.utf8.count + 1) + 1
        #expect(dropped >= total - 2 * AccessLog.capacity - pipeLines, "dropped \(dropped) of \(total)")
        // Unstick the writer: drain the pipe until the log shuts down.
        let stop = ManagedAtomic(false)
        let drainer = Thread {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while !stop.load(ordering: .relaxed) {
                if read(reader, &buffer, buffer.count) <= 0 { usleep(1000) }
            }
        }
        drainer.start()
        log.shutdown()
        stop.store(true, ordering: .relaxed)
        #expect(log.written.load(ordering: .relaxed) + dropped + log.failed.load(ordering: .relaxed) == total)
    }

    @Test func accessLog_reopensItsFile_afterRotation() async throws {
        let path = NSTemporaryDirectory() + "outrigger-rotate-\(UUID().uuidString).log"
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".1")
        }
        let log = try AccessLog(destination: .file(path))
        log.log("before")
        _ = try await Self.readLinesRaw(path, count: 1)
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        log.reopen()
        log.log("after")
        let after = try await Self.readLinesRaw(path, count: 1)
        #expect(after == ["after"])
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == "before\n")
        log.shutdown()
    }

    static func readLinesRaw(_ path: String, count: Int) async throws -> [String] {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(
                String.init)
            if lines.count >= count { return lines }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TestTimeout(what: "\(count) lines in \(path)")
    }
}
