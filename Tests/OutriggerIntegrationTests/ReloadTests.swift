import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import OutriggerCore

/// SPEC §9 reload: valid files applied, invalid ones refused with every error, breaker state kept.
@Suite("Reload (SPEC §9)")
struct ReloadTests {
    static func folder() throws -> String {
        let path = NSTemporaryDirectory() + "outrigger-reload-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ text: String, to path: String) throws {
        // Atomic replace, as consul-template and ConfigMaps do.
        try text.write(toFile: path + ".tmp", atomically: false, encoding: .utf8)
        _ = rename(path + ".tmp", path)
    }

    @Test func reload_appliesValidFiles_refusesInvalidOnes_andKeepsBreakerState() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try await TestUpstream { _ in .text(body: "first") }
        let second = try await TestUpstream { _ in .text(body: "second") }
        try Self.write("listen: 127.0.0.1:0\nworkers: 1\n", to: folder + "/outrigger.yaml")
        try Self.write("services:\n  svc:\n    endpoints: [127.0.0.1:\(first.port)]\n", to: folder + "/registry.yaml")
        let harness = try await AdminHarness.start(
            services: [("svc", ["127.0.0.1:\(first.port)"])], configPath: folder + "/outrigger.yaml")
        let client = try await harness.proxy.client()
        _ = try await harness.call("POST", "/breakers/svc/open")

        try Self.write(
            "services:\n  svc:\n    endpoints: [127.0.0.1:\(first.port)]\n  extra:\n    endpoints: [127.0.0.1:\(second.port)]\n",
            to: folder + "/registry.yaml")
        let applied = try await harness.call("POST", "/reload")
        #expect(applied.status == 200, "\(applied.bodyText)")
        #expect(applied.bodyText.contains("2 services"))
        #expect(try await AdminTests.get(client, host: "extra").bodyText == "second")
        // The forced-open breaker of a service that still exists survived the reload.
        #expect(try await AdminTests.get(client).value("x-outrigger-error") == "breaker_open")

        try Self.write("services:\n  svc:\n    endpoints: []\n    bogus: 1\n", to: folder + "/registry.yaml")
        let refused = try await harness.call("POST", "/reload")
        #expect(refused.status == 400)
        let body = try AdminTests.json(refused)
        let errors = try #require(body["errors"] as? [String])
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.hasPrefix(folder + "/registry.yaml:") })
        #expect(errors.contains { $0.contains(":3:16: services.svc.endpoints is empty") })
        #expect(try await AdminTests.get(client, host: "extra").bodyText == "second", "the old config must be kept")

        try Self.write("listen: 127.0.0.1:1\nworkers: 1\n", to: folder + "/outrigger.yaml")
        try Self.write("services:\n  svc:\n    endpoints: [127.0.0.1:\(first.port)]\n", to: folder + "/registry.yaml")
        let moved = try await harness.call("POST", "/reload")
        #expect(moved.status == 400)
        #expect(moved.bodyText.contains("restart Outrigger to apply it"))
        await client.close()
        await harness.stop()
        await first.stop()
        await second.stop()
    }

    @Test func watcher_seesAnAtomicRename() async throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/registry.yaml"
        try Self.write("services: {}\n", to: path)
        let seen = NIOLockedCounter()
        let watcher = ConfigWatcher(paths: { [path] }, interval: .milliseconds(20))
        let task = Task { await watcher.run { _ in seen.increment() } }
        let clock = ContinuousClock()
        try Self.write("services: {a: {endpoints: [127.0.0.1:1]}}\n", to: path)
        let deadline = clock.now + .seconds(10)
        while seen.value == 0 && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(seen.value == 1)
        task.cancel()
    }
}

/// A counter tests can share with a Sendable closure.
final class NIOLockedCounter: Sendable {
    private let box = NIOLockedValueBox(0)
    func increment() { self.box.withLockedValue { $0 += 1 } }
    var value: Int { self.box.withLockedValue { $0 } }
}
