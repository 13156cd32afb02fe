// `registry.yaml` and the service policy shared with `defaults`: one key table per section (SPEC §2).
extension ConfigLoader {
    /// The keys of a service policy, in `defaults` and per service.
    static func policyTable(folder: String) -> ConfigKeyTable<ServicePolicy> {
        ConfigKeyTable([
            (
                "connect_timeout",
                { value, path, policy, reader in
                    guard let v = reader.duration(value, at: path) else { return }
                    if v == 0 {
                        reader.error(value, "\(path) must be more than 0")
                    } else {
                        policy.connectTimeoutMs = v
                    }
                }
            ),
            (
                "request_timeout",
                { value, path, policy, reader in
                    if let v = reader.duration(value, at: path) { policy.requestTimeoutMs = v }
                }
            ),
            (
                "idle_timeout",
                { value, path, policy, reader in
                    if let v = reader.duration(value, at: path) { policy.idleTimeoutMs = v }
                }
            ),
            (
                "max_concurrent_requests",
                { value, path, policy, reader in
                    if let v = reader.int(value, at: path, range: 1...10_000_000) { policy.maxConcurrentRequests = v }
                }
            ),
            (
                "balance",
                { value, path, policy, reader in
                    guard let text = reader.string(value, at: path) else { return }
                    if let balance = Balance(rawValue: text) {
                        policy.balance = balance
                    } else {
                        reader.error(value, "\(path) must be round_robin or least_request, not '\(text)'")
                    }
                }
            ),
            (
                "protocol",
                { value, path, policy, reader in
                    guard let text = reader.string(value, at: path) else { return }
                    if let chosen = UpstreamProtocol(rawValue: text) {
                        policy.upstreamProtocol = chosen
                    } else {
                        reader.error(value, "\(path) must be http1, h2c or auto, not '\(text)'")
                    }
                }
            ),
            (
                "faults",
                { value, path, policy, reader in
                    Self.faultsTable.read(value, at: path, prefix: path, into: &policy.faults, reader: &reader)
                }
            ),
            (
                "breaker",
                { value, path, policy, reader in
                    Self.breakerTable.read(value, at: path, prefix: path, into: &policy.breaker, reader: &reader)
                }
            ),
            (
                "retries",
                { value, path, policy, reader in
                    Self.retriesTable.read(value, at: path, prefix: path, into: &policy.retries, reader: &reader)
                }
            ),
            (
                "tls",
                { value, path, policy, reader in
                    let pairs = Self.upstreamTLSTable(folder: folder).read(
                        value, at: path, prefix: path, into: &policy, reader: &reader)
                    if (policy.tlsCertFile == nil) != (policy.tlsKeyFile == nil) {
                        reader.error(
                            value, "\(path): cert_file and key_file go together (a client certificate and its key)")
                    } else if let certificate = policy.tlsCertFile, let key = policy.tlsKeyFile,
                        let keyNode = pairs?.first(where: { $0.key == "key_file" })?.value
                    {
                        reader.checkPair(certificate: certificate, key: key, keyNode: keyNode, at: "\(path).key_file")
                    }
                }
            ),
            // The keys before SPEC §18's `tls` block, kept as aliases of `tls.insecure_skip_verify` (inverted) and
            // `tls.ca_file`.
            (
                "tls_verify",
                { value, path, policy, reader in
                    reader.warn(value, "\(path) is the old spelling of tls.insecure_skip_verify (inverted)")
                    guard let v = reader.bool(value, at: path) else { return }
                    policy.tlsVerify = v
                    if !v { Self.warnSkipVerify(value, at: path, reader: &reader) }
                }
            ),
            (
                "tls_ca_file",
                { value, path, policy, reader in
                    reader.warn(value, "\(path) is the old spelling of tls.ca_file")
                    if let v = reader.certificateFile(value, at: path, folder: folder) { policy.tlsCAFile = v }
                }
            ),
        ])
    }

    /// SPEC §18: allowed, and `check` says what it means.
    static func warnSkipVerify(_ node: YAMLNode, at path: String, reader: inout YAMLReader) {
        reader.warn(
            node, "\(path): upstream certificates are not verified; anyone on the path can read and change the traffic")
    }

    /// The `tls` block of a service policy: how Outrigger talks TLS to `https://` endpoints (SPEC §18).
    static func upstreamTLSTable(folder: String) -> ConfigKeyTable<ServicePolicy> {
        ConfigKeyTable([
            (
                "ca_file",
                { value, path, policy, reader in
                    if let v = reader.certificateFile(value, at: path, folder: folder) { policy.tlsCAFile = v }
                }
            ),
            (
                "cert_file",
                { value, path, policy, reader in
                    if let v = reader.certificateFile(value, at: path, folder: folder) { policy.tlsCertFile = v }
                }
            ),
            (
                "key_file",
                { value, path, policy, reader in
                    if let v = reader.keyFile(value, at: path, folder: folder) { policy.tlsKeyFile = v }
                }
            ),
            (
                "server_name",
                { value, path, policy, reader in
                    guard let name = reader.string(value, at: path) else { return }
                    let valid =
                        !name.isEmpty && name.utf8.count <= 253
                        && name.utf8.allSatisfy { byte in
                            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
                                || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
                        }
                    if valid {
                        policy.tlsServerName = name
                    } else {
                        reader.error(value, "\(path) must be a DNS name (letters, digits, '-' and '.'), not '\(name)'")
                    }
                }
            ),
            (
                "insecure_skip_verify",
                { value, path, policy, reader in
                    guard let v = reader.bool(value, at: path) else { return }
                    policy.tlsVerify = !v
                    if v { Self.warnSkipVerify(value, at: path, reader: &reader) }
                }
            ),
        ])
    }

    static let breakerTable = ConfigKeyTable<BreakerPolicy>([
        (
            "consecutive_failures",
            { value, path, breaker, reader in
                if let v = reader.int(value, at: path, range: 1...1_000_000) { breaker.consecutiveFailures = v }
            }
        ),
        (
            "failure_rate",
            { value, path, breaker, reader in
                if let v = reader.double(value, at: path, range: 0.01...1) { breaker.failureRate = v }
            }
        ),
        (
            "minimum_requests",
            { value, path, breaker, reader in
                if let v = reader.int(value, at: path, range: 1...1_000_000) { breaker.minimumRequests = v }
            }
        ),
        (
            "window",
            { value, path, breaker, reader in
                guard let v = reader.duration(value, at: path) else { return }
                if v < 1000 { reader.error(value, "\(path) must be at least 1s") } else { breaker.windowMs = v }
            }
        ),
        (
            "open_for",
            { value, path, breaker, reader in
                guard let v = reader.duration(value, at: path) else { return }
                if v == 0 { reader.error(value, "\(path) must be more than 0") } else { breaker.openForMs = v }
            }
        ),
        (
            "half_open_requests",
            { value, path, breaker, reader in
                if let v = reader.int(value, at: path, range: 1...10_000) { breaker.halfOpenRequests = v }
            }
        ),
    ])

    static let retriesTable = ConfigKeyTable<RetryPolicy>([
        (
            "attempts",
            { value, path, retries, reader in
                if let v = reader.int(value, at: path, range: 0...10) { retries.attempts = v }
            }
        ),
        (
            "per_try_timeout",
            { value, path, retries, reader in
                if let v = reader.duration(value, at: path) { retries.perTryTimeoutMs = v }
            }
        ),
        (
            "retry_on",
            { value, path, retries, reader in
                guard let items = reader.sequence(value, at: path) else { return }
                var conditions: [RetryPolicy.Condition] = []
                for item in items {
                    guard let text = item.scalar?.string, let condition = RetryPolicy.Condition(text) else {
                        reader.error(
                            item,
                            "\(path): unknown condition '\(item.scalar?.string ?? "?")' "
                                + "(expected connect_failure, reset, timeout or a 5xx status)")
                        continue
                    }
                    conditions.append(condition)
                }
                retries.retryOn = conditions
            }
        ),
        (
            "budget_percent",
            { value, path, retries, reader in
                if let v = reader.int(value, at: path, range: 0...100) { retries.budgetPercent = v }
            }
        ),
    ])

    static func parsePolicy(
        _ node: YAMLNode, base: ServicePolicy, at path: String, folder: String, reader: inout YAMLReader
    ) -> ServicePolicy {
        var policy = base
        Self.policyTable(folder: folder).read(node, at: path, prefix: path, into: &policy, reader: &reader)
        return policy
    }

    // MARK: - registry.yaml

    static func parseRegistry(text: String, reader: inout YAMLReader, defaults: ServicePolicy, folder: String)
        -> Registry
    {
        guard let root = reader.compose(text) else {
            if reader.errors.isEmpty { reader.fileError("registry file is empty (expected a 'services' mapping)") }
            return Registry(services: [])
        }
        guard let pairs = reader.mapping(root, at: "the registry", allowed: ["services"]) else {
            return Registry(services: [])
        }
        guard let servicesNode = pairs.first(where: { $0.key == "services" })?.value else {
            reader.error(root, "the registry needs a 'services' mapping")
            return Registry(services: [])
        }
        // Service names are the registry's own: any name is a key here, checked below.
        guard let entries = reader.mapping(servicesNode, at: "services", allowed: []) else {
            return Registry(services: [])
        }
        var services: [ServiceConfig] = []
        var seen: Set<String> = []
        for (name, keyNode, value) in entries {
            if !Self.isValidServiceName(name) {
                reader.error(
                    keyNode,
                    "service name '\(name)' must be a lower-case host name (letters, digits, '-', '.', '_'): "
                        + "requests are routed to it by their Host header")
                continue
            }
            if !seen.insert(name).inserted {
                reader.error(keyNode, "duplicate service name '\(name)'")
                continue
            }
            if let service = Self.parseService(name: name, value, defaults: defaults, folder: folder, reader: &reader) {
                services.append(service)
            }
        }
        return Registry(services: services)
    }

    static func isValidServiceName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 253
            && name.unicodeScalars.allSatisfy { scalar in
                (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9") || scalar == "-" || scalar == "."
                    || scalar == "_"
            }
    }

    /// A service while it is read: its endpoints and its policy over `defaults`.
    struct ServiceDraft {
        var policy: ServicePolicy
        var endpoints: [Endpoint] = []
    }

    /// A service's keys: `endpoints`, then every policy key, applied through the policy's own table.
    static func serviceTable(folder: String) -> ConfigKeyTable<ServiceDraft> {
        let endpoints: ConfigKeyTable<ServiceDraft>.Setter = { value, path, draft, reader in
            guard let items = reader.sequence(value, at: path) else { return }
            if items.isEmpty { reader.error(value, "\(path) is empty: a service needs at least one") }
            for item in items {
                guard let text = reader.string(item, at: "\(path) item") else { continue }
                switch Endpoint.parse(text) {
                case .success(var endpoint):
                    if let socket = endpoint.socketPath { endpoint.socketPath = Self.resolve(socket, folder: folder) }
                    draft.endpoints.append(endpoint)
                case .failure(let error):
                    reader.error(item, "\(path): \(error.message)")
                }
            }
        }
        let policy = Self.policyTable(folder: folder)
        return ConfigKeyTable(
            [("endpoints", endpoints)]
                + policy.entries.map { entry in
                    (entry.key, { value, path, draft, reader in entry.set(value, path, &draft.policy, &reader) })
                })
    }

    static func parseService(
        name: String, _ node: YAMLNode, defaults: ServicePolicy, folder: String, reader: inout YAMLReader
    ) -> ServiceConfig? {
        let path = "services.\(name)"
        var draft = ServiceDraft(policy: defaults)
        guard
            let pairs = Self.serviceTable(folder: folder).read(
                node, at: path, prefix: path, into: &draft, reader: &reader)
        else { return nil }
        if !pairs.contains(where: { $0.key == "endpoints" }) { reader.error(node, "\(path) needs 'endpoints'") }
        return ServiceConfig(name: name, endpoints: draft.endpoints, policy: draft.policy)
    }
}
