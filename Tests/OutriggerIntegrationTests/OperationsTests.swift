import Foundation
import NIOCore
import Testing

@testable import OutriggerCore

/// SPEC §9 in-process: drain, reload under load, sd_notify.
@Suite("Operations (SPEC §9)")
struct OperationsTests {
    static let slow = "HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nslow"

    @Test func drain_letsTheInFlightRequestFinish_andClosesIdleConnectionsAtOnce() async throws {
        let upstream = try await TestUpstream { _ in .delayed(milliseconds: 300, Array(Self.slow.utf8)) }
        let proxy = try await ProxyHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])])
        let idle = try await proxy.client()
        let busy = try await proxy.client()
        try await busy.send("GET /slow HTTP/1.1\r\nHost: svc\r\n\r\n")
        try await upstream.waitForRequests()
        let cut = await proxy.server.shutdown(drainTimeoutMs: 10_000)
        #expect(cut == 0)
        let response = try await busy.readResponse()
        #expect(response.bodyText == "slow")
        try await busy.waitForClose()
        try await idle.waitForClose()
        #expect(idle.state.withLockedValue { $0.received.isEmpty })
        await idle.close()
        await busy.close()
        await upstream.stop()
    }

    @Test func drain_pastTheBudget_cutsWhatIsLeft_andSaysHowMany() async throws {
        let upstream = try await TestUpstream { _ in .hang }
        let proxy = try await ProxyHarness.start(services: [("svc", ["127.0.0.1:\(upstream.port)"])])
        let busy = try await proxy.client()
        try await busy.send("GET /forever HTTP/1.1\r\nHost: svc\r\n\r\n")
        try await upstream.waitForRequests()
        let cut = await proxy.server.shutdown(drainTimeoutMs: 100)
        #expect(cut == 1)
        try await busy.waitForClose()
        await busy.close()
        await upstream.stop()
    }

    @Test func reloadUnderLoad_dropsNothing() async throws {
        let folder = try ReloadTests.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let upstream = try await TestUpstream { _ in .text(body: "ok") }
        try ReloadTests.write("listen: 127.0.0.1:0\nworkers: 1\n", to: folder + "/outrigger.yaml")
        try ReloadTests.write(
            "services:\n  svc:\n    endpoints: [127.0.0.1:\(upstream.port)]\n", to: folder + "/registry.yaml")
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(upstream.port)"])], configPath: folder + "/outrigger.yaml")
        let port = harness.proxy.port
        let load = Task { () -> (ok: Int, failed: [String]) in
            var ok = 0
            var failed: [String] = []
            let client = try await RawClient.connect(port: port)
            for index in 0..<300 {
                if index % 50 == 0 {
                    // New connections during the reloads too.
                    let fresh = try await RawClient.connect(port: port)
                    try await fresh.send("GET /fresh HTTP/1.1\r\nHost: svc\r\n\r\n")
                    let response = try await fresh.readResponse()
                    if response.status == 200 { ok += 1 } else { failed.append(response.startLine) }
                    await fresh.close()
                }
                try await client.send("GET /\(index) HTTP/1.1\r\nHost: svc\r\n\r\n")
                let response = try await client.readResponse()
                if response.status == 200 { ok += 1 } else { failed.append(response.startLine) }
            }
            let closed = client.isClosed
            await client.close()
            return (ok, closed ? failed + ["keep-alive connection dropped"] : failed)
        }
        var reloads = 0
        while reloads < 20 {
            if case .applied = harness.runtime.reload() { reloads += 1 }
            try await Task.sleep(for: .milliseconds(5))
        }
        let result = try await load.value
        #expect(result.failed.isEmpty, "\(result.failed)")
        #expect(result.ok == 306)
        #expect(harness.runtime.reloads.load(ordering: .relaxed) == 20)
        await harness.stop()
        await upstream.stop()
    }

    @Test func notifier_sendsReadyToNotifySocket() throws {
        let path = NSTemporaryDirectory() + "outrigger-notify-\(UUID().uuidString.prefix(8)).sock"
        defer { unlink(path) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(notifier.notify("READY=1\nSTATUS=serving"))
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(fd, &buffer, buffer.count, 0)
        #expect(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == "READY=1\nSTATUS=serving")
        #expect(!SystemdNotifier(environment: [:]).notify("READY=1"))
    }
}
