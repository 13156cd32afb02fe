import Foundation
import Testing

@testable import OutriggerCore

/// The loader against fixture files: every problem, each at its exact FILE:LINE:COL.
@Suite("Config loader (SPEC §2)")
struct ConfigLoaderTests {
    static let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.path

    /// Loads a fixture and returns its error lines with the fixture folder removed from paths.
    static func errors(in fixture: String) -> [String] {
        let folder = "\(Self.fixtures)/\(fixture)/"
        do {
            _ = try ConfigLoader.load(configPath: folder + "outrigger.yaml")
            return []
        } catch {
            return error.errors.map { $0.description.replacingOccurrences(of: folder, with: "") }
        }
    }

    static func expected(in fixture: String) throws -> [String] {
        let text = try String(contentsOfFile: "\(Self.fixtures)/\(fixture)/expected.txt", encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    @Test(arguments: [
        "unknown-keys", "bad-values", "bad-registry", "duplicate-service", "missing-registry", "syntax-error",
        "bad-faults",
    ])
    func badFixture_reportsEveryErrorAtItsPosition(fixture: String) throws {
        let got = Self.errors(in: fixture)
        let expected = try Self.expected(in: fixture)
        #expect(got == expected)
    }

    @Test func validFixture_loadsWithDefaultsOverriddenPerService() throws {
        let folder = "\(Self.fixtures)/valid"
        let loaded = try ConfigLoader.load(configPath: folder + "/outrigger.yaml")
        #expect(loaded.config.listen == .inet(host: "::1", port: 15001))
        #expect(loaded.config.workers == 2)
        #expect(loaded.config.drainTimeoutMs == 5000)
        #expect(loaded.config.accessLog == .file(folder + "/logs/access.log"))
        #expect(loaded.config.registryPath == folder + "/registry.yaml")
        #expect(loaded.config.routes == [.init(pathPrefix: "/orders/", service: "orders", stripPrefix: true)])
        #expect(loaded.registry.order == ["orders", "payments"])
        let orders = try #require(loaded.registry.services["orders"])
        #expect(orders.endpoints.map(\.scheme) == [.http, .https, .unix])
        #expect(orders.endpoints[2].socketPath == folder + "/sock/orders.sock")
        #expect(orders.policy.connectTimeoutMs == 250)
        #expect(orders.policy.requestTimeoutMs == 2000)
        #expect(orders.policy.retries.attempts == 0)
        let payments = try #require(loaded.registry.services["payments"])
        #expect(payments.policy.balance == .leastRequest)
        #expect(payments.policy.breaker.consecutiveFailures == 3)
        #expect(payments.policy.breaker.openForMs == 30_000)
        #expect(payments.endpoints.first?.host == "::1")
    }

    @Test func shippedConfig_isValid() throws {
        // Tests run from the package root: the example users start from must always load.
        let loaded = try ConfigLoader.load(configPath: "config/outrigger.yaml")
        #expect(loaded.registry.services["orders"] != nil)
    }

    @Test func missingConfigFile_isReported() {
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(configPath: "/nonexistent/outrigger.yaml") }
    }

    @Test func nonLoopbackAdmin_withoutToken_isRefused() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outrigger-admin-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "admin:\n  listen: 0.0.0.0:9901\n".write(
            toFile: folder + "/outrigger.yaml", atomically: true, encoding: .utf8)
        try "services:\n  a:\n    endpoints: [127.0.0.1:1]\n".write(
            toFile: folder + "/registry.yaml", atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader.load(configPath: folder + "/outrigger.yaml", environment: [:])
            Issue.record("accepted a public admin listener without a token")
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "\(folder)/outrigger.yaml:2:11: admin.listen 0.0.0.0:9901 is not a loopback address: set admin.token, admin.token_file or OUTRIGGER_ADMIN_TOKEN to expose the admin API"
                ])
        }
        try "admin:\n  listen: 0.0.0.0:9901\n  token: s3cret\n".write(
            toFile: folder + "/outrigger.yaml", atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(configPath: folder + "/outrigger.yaml").config.admin.token == "s3cret")
    }

    /// A folder with a registry and the given `outrigger.yaml`; returns the config path.
    static func scratch(_ config: String, files: [String: String] = [:]) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("outrigger-cfg-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try config.write(toFile: folder + "/outrigger.yaml", atomically: true, encoding: .utf8)
        try "services:\n  a:\n    endpoints: [127.0.0.1:1]\n".write(
            toFile: folder + "/registry.yaml", atomically: true, encoding: .utf8)
        for (name, text) in files { try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8) }
        return folder + "/outrigger.yaml"
    }

    @Test func adminToken_fromTokenFile_isTrimmed_andPathsAreRelativeToTheConfig() throws {
        let path = try Self.scratch("admin:\n  token_file: secret/token\n", files: [:])
        let folder = ConfigLoader.folder(of: path)
        try FileManager.default.createDirectory(atPath: folder + "/secret", withIntermediateDirectories: true)
        try "  t0ken-from-file\n\n".write(toFile: folder + "/secret/token", atomically: true, encoding: .utf8)
        let admin = try ConfigLoader.load(configPath: path, environment: ["OUTRIGGER_ADMIN_TOKEN": "env"]).config.admin
        #expect(admin.token == "t0ken-from-file")
        #expect(admin.tokenSource == .file(folder + "/secret/token"))
    }

    @Test func adminToken_unreadableTokenFile_isAnErrorAtItsPosition() throws {
        let path = try Self.scratch("listen: 127.0.0.1:1\nadmin:\n  token_file: missing.token\n")
        let folder = ConfigLoader.folder(of: path)
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(configPath: path) }
        do {
            _ = try ConfigLoader.load(configPath: path, environment: [:])
        } catch {
            #expect(
                error.errors.map(\.description) == [
                    "\(path):3:15: cannot read admin.token_file '\(folder)/missing.token': No such file or directory"
                ])
        }
        let empty = try Self.scratch("admin:\n  token_file: empty\n", files: ["empty": " \n"])
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(configPath: empty, environment: [:]) }
        let both = try Self.scratch("admin:\n  token: a\n  token_file: t\n", files: ["t": "b"])
        do {
            _ = try ConfigLoader.load(configPath: both, environment: [:])
            Issue.record("accepted both admin.token and admin.token_file")
        } catch {
            #expect(error.errors.map(\.message) == ["admin.token and admin.token_file are both set: keep one"])
        }
    }

    @Test func adminToken_fromTheEnvironment_whenTheConfigNamesNone() throws {
        let path = try Self.scratch("admin:\n  listen: 0.0.0.0:9901\n")
        let admin = try ConfigLoader.load(configPath: path, environment: ["OUTRIGGER_ADMIN_TOKEN": " envtok\n"]).config
            .admin
        #expect(admin.token == "envtok")
        #expect(admin.tokenSource == .environment)
        // The config's own token wins over the environment.
        let own = try Self.scratch("admin:\n  token: mine\n")
        #expect(
            try ConfigLoader.load(configPath: own, environment: ["OUTRIGGER_ADMIN_TOKEN": "env"]).config.admin.token
                == "mine")
    }
}
