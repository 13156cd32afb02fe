import Foundation
import Testing

@testable import OutriggerCore

/// Every key a section's table allows is also applied: set alone to a non-default value, it changes what the
/// loader produces. A key added to a table without a sample here fails the test, so none goes unchecked.
@Suite("Config key tables")
struct ConfigKeyTableTests {
    /// Reads `key: value` through `table` into `base`; returns the result and any errors.
    /// Real PEM files (made with openssl at test time) for the keys that name certificates, keys and CAs.
    static var pki: TestPKI.Files { TestPKI.files }

    static func apply<Target>(
        _ table: ConfigKeyTable<Target>, _ key: String, _ value: String, to base: Target
    ) -> (Target, [String]) {
        var reader = YAMLReader(file: "test.yaml")
        var target = base
        guard let node = reader.compose("\(key): \(value)\n") else { return (target, ["no node"]) }
        table.read(node, at: "section", prefix: "section", into: &target, reader: &reader)
        return (target, reader.errors.map(\.message))
    }

    static func checkEveryKey<Target: Equatable>(
        _ table: ConfigKeyTable<Target>, base: Target, samples: [String: String]
    ) {
        #expect(
            Set(table.keys) == Set(samples.keys), "keys without a sample: \(Set(table.keys).subtracting(samples.keys))")
        for key in table.keys {
            guard let sample = samples[key] else { continue }
            let (result, errors) = Self.apply(table, key, sample, to: base)
            #expect(errors.isEmpty, "\(key): \(errors)")
            #expect(result != base, "\(key): \(sample) was accepted but changed nothing")
        }
    }

    @Test func policyKeys_areAllApplied() {
        Self.checkEveryKey(
            ConfigLoader.policyTable(folder: "/etc/outrigger"), base: ServicePolicy(),
            samples: [
                "connect_timeout": "7s", "request_timeout": "7s", "idle_timeout": "7s",
                "max_concurrent_requests": "7", "balance": "least_request", "protocol": "h2c",
                "breaker": "{ consecutive_failures: 7 }", "retries": "{ attempts: 7 }",
                "tls": "{ server_name: orders.internal }", "tls_verify": "false", "tls_ca_file": "\(Self.pki.ca)",
                "faults": "{ reset: { percent: 1 } }",
            ])
        Self.checkEveryKey(
            ConfigLoader.faultsTable, base: FaultPolicy(),
            samples: [
                "delay": "{ percent: 10, duration: 200ms }", "abort": "{ percent: 5, status: 503 }",
                "reset": "{ percent: 1 }", "allow_request_headers": "true",
            ])
        Self.checkEveryKey(
            ConfigLoader.faultDelayTable, base: FaultPolicy.Delay(percent: 0, durationMs: 0),
            samples: ["percent": "7", "duration": "7s"])
        Self.checkEveryKey(
            ConfigLoader.faultAbortTable, base: FaultPolicy.Abort(percent: 0, status: 500),
            samples: ["percent": "7", "status": "503"])
        Self.checkEveryKey(
            ConfigLoader.faultResetTable, base: FaultPolicy.Reset(percent: 0), samples: ["percent": "7"])
        Self.checkEveryKey(
            AdminRouter.faultsBodyTable, base: AdminRouter.FaultsRequest(),
            samples: [
                "delay": "{ percent: 10, duration: 200ms }", "abort": "{ percent: 5, status: 503 }",
                "reset": "{ percent: 1 }", "allow_request_headers": "true", "ttl": "60s",
            ])
        Self.checkEveryKey(
            ConfigLoader.upstreamTLSTable(folder: "/etc/outrigger"), base: ServicePolicy(),
            samples: [
                "ca_file": "\(Self.pki.ca)", "cert_file": "\(Self.pki.leaf)", "key_file": "\(Self.pki.leafKey)",
                "server_name": "orders.internal", "insecure_skip_verify": "true",
            ])
    }

    @Test func upstreamTLSFiles_mustBeReadable_andComeInPairs() {
        let (_, missing) = Self.apply(
            ConfigLoader.policyTable(folder: "/nonexistent"), "tls", "{ ca_file: ca.pem }", to: ServicePolicy())
        #expect(missing.contains { $0.contains("cannot read section.tls.ca_file '/nonexistent/ca.pem'") }, "\(missing)")
        let (_, unpaired) = Self.apply(
            ConfigLoader.policyTable(folder: "/etc"), "tls", "{ cert_file: '\(Self.pki.leaf)' }", to: ServicePolicy())
        #expect(unpaired.contains { $0.contains("cert_file and key_file go together") }, "\(unpaired)")
        let (_, mismatched) = Self.apply(
            ConfigLoader.policyTable(folder: "/etc"), "tls",
            "{ cert_file: '\(Self.pki.leaf)', key_file: '\(Self.pki.otherKey)' }", to: ServicePolicy())
        #expect(
            mismatched == [
                "section.tls.key_file '\(Self.pki.otherKey)': the key does not match the certificate (its first one, "
                    + "when a chain) '\(Self.pki.leaf)'"
            ], "\(mismatched)")
        let (_, notPEM) = Self.apply(
            ConfigLoader.policyTable(folder: "/etc"), "tls",
            "{ ca_file: '\(Self.pki.junk)', cert_file: '\(Self.pki.junk)', key_file: '\(Self.pki.junk)' }",
            to: ServicePolicy())
        #expect(notPEM.filter { $0.contains("no PEM certificate in the file") }.count == 2, "\(notPEM)")
        #expect(
            notPEM.contains { $0.hasPrefix("section.tls.key_file") && $0.contains("no readable PEM private key") },
            "\(notPEM)")
        let (matched, good) = Self.apply(
            ConfigLoader.policyTable(folder: "/etc"), "tls",
            "{ cert_file: '\(Self.pki.leaf)', key_file: '\(Self.pki.leafKey)' }", to: ServicePolicy())
        #expect(
            good.isEmpty && matched.tlsCertFile == Self.pki.leaf && matched.tlsKeyFile == Self.pki.leafKey, "\(good)")
        let (_, device) = Self.apply(
            ConfigLoader.policyTable(folder: "/etc"), "tls", "{ ca_file: /dev/zero }", to: ServicePolicy())
        #expect(device.contains { $0.contains("not a regular file") }, "\(device)")
        let (_, badName) = Self.apply(
            ConfigLoader.policyTable(folder: "/etc"), "tls", "{ server_name: 'a b' }", to: ServicePolicy())
        #expect(badName.contains { $0.contains("must be a DNS name") }, "\(badName)")
    }

    @Test func breakerAndRetriesKeys_areAllApplied() {
        Self.checkEveryKey(
            ConfigLoader.breakerTable, base: BreakerPolicy(),
            samples: [
                "consecutive_failures": "7", "failure_rate": "0.7", "minimum_requests": "7", "window": "7s",
                "open_for": "7s", "half_open_requests": "7",
            ])
        Self.checkEveryKey(
            ConfigLoader.retriesTable, base: RetryPolicy(),
            samples: ["attempts": "7", "per_try_timeout": "7s", "retry_on": "[reset]", "budget_percent": "7"])
    }

    @Test func daemonSectionKeys_areAllApplied() throws {
        Self.checkEveryKey(
            ConfigLoader.limitsTable, base: OutriggerConfig.Limits(),
            samples: [
                "max_connections": "7", "max_request_header_bytes": "7777", "max_request_body_bytes": "7",
                "header_read_timeout": "7s", "client_idle_timeout": "7s", "max_concurrent_streams": "7",
            ])
        Self.checkEveryKey(
            ConfigLoader.tracingTable, base: OutriggerConfig.Tracing(),
            samples: ["formats": "[b3]", "sample_ratio": "0.7", "otlp": "{ endpoint: http://c:4318/v1/traces }"])
        Self.checkEveryKey(
            ConfigLoader.otlpTable, base: OTLPSettings(),
            samples: [
                "endpoint": "http://c:4318/v1/traces", "protocol": "http/json", "headers": "{ authorization: x }",
                "service_name": "edge",
            ])
        Self.checkEveryKey(
            ConfigLoader.etcdTable(folder: "/etc/outrigger"), base: EtcdSettings(),
            samples: [
                "endpoints": "[http://10.0.0.1:2379]", "prefix": "/mesh/", "username": "u", "password": "p",
                "cache": "cache.json", "tls_ca_file": "\(Self.pki.ca)",
            ])
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        try "t0k\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        Self.checkEveryKey(
            ConfigLoader.adminTable(folder: "/nonexistent"), base: OutriggerConfig.Admin(),
            samples: ["listen": "127.0.0.1:7", "token": "t", "token_file": tokenFile])
        Self.checkEveryKey(
            ConfigLoader.inboundTLSTable(folder: "/nonexistent"), base: OutriggerConfig.InboundTLS(),
            samples: [
                "listen": "127.0.0.1:7", "cert_file": Self.pki.leaf, "key_file": Self.pki.leafKey,
                "client_ca_file": Self.pki.ca, "min_version": "'1.3'", "alpn": "[h2, http/1.1]",
            ])
    }

    @Test func inboundTLS_needsItsPair_andNamesWhatIsWrong() {
        func errors(_ text: String) -> [String] {
            var reader = YAMLReader(file: "outrigger.yaml")
            guard let node = reader.compose(text) else { return ["no node"] }
            _ = ConfigLoader.parseInboundTLS(node, at: "tls", folder: "/", reader: &reader)
            return reader.errors.map(\.description) + reader.warnings.map(\.description)
        }
        #expect(
            errors("listen: 127.0.0.1:7\n") == [
                "outrigger.yaml:1:1: tls.cert_file is required to serve TLS",
                "outrigger.yaml:1:1: tls.key_file is required to serve TLS",
            ])
        let pair = "cert_file: '\(Self.pki.leaf)'\nkey_file: '\(Self.pki.otherKey)'\n"
        #expect(errors("listen: 127.0.0.1:7\n" + pair).first?.hasPrefix("outrigger.yaml:3:11: tls.key_file") == true)
        let good = "listen: 127.0.0.1:7\ncert_file: '\(Self.pki.leaf)'\nkey_file: '\(Self.pki.leafKey)'\n"
        #expect(errors(good).isEmpty)
        #expect(
            errors(good + "min_version: '1.1'\n") == [
                "outrigger.yaml:4:14: tls.min_version must be \"1.2\" or \"1.3\", not '1.1'"
            ])
        #expect(
            errors(good + "alpn: [spdy/3]\n") == [
                "outrigger.yaml:4:8: tls.alpn entries must be h2 or http/1.1, not 'spdy/3'"
            ])
        #expect(errors(good + "alpn: [h2]\n").isEmpty)
    }
}

@Suite("Config warnings")
struct ConfigWarningTests {
    @Test func skippedVerificationAndOldSpellings_areWarnedAtTheirKeys() throws {
        var reader = YAMLReader(file: "registry.yaml")
        let text = """
            tls: { insecure_skip_verify: true }
            tls_ca_file: '\(ConfigKeyTableTests.pki.ca)'
            tls_verify: true

            """
        let composed = reader.compose(text)
        let node = try #require(composed)
        var policy = ServicePolicy()
        ConfigLoader.policyTable(folder: "/").read(node, at: "svc", prefix: "svc", into: &policy, reader: &reader)
        #expect(reader.errors.isEmpty, "\(reader.errors)")
        let warnings = reader.warnings.map(\.description)
        #expect(warnings.count == 3, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("registry.yaml:1:30: warning: svc.tls.insecure_skip_verify") })
        #expect(warnings.contains { $0.hasPrefix("registry.yaml:2:14: warning: svc.tls_ca_file is the old spelling") })
        #expect(warnings.contains { $0.hasPrefix("registry.yaml:3:13: warning: svc.tls_verify is the old spelling") })
        #expect(policy.tlsVerify)  // the later key wins, as in the file
    }
}
