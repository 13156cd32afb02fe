import Foundation
import Yams

/// Loads and validates `outrigger.yaml` and the registry it names, reporting every problem with its position.
///
/// Each key is documented in `config/outrigger.yaml` and `config/registry.yaml`. Unknown keys, wrong types, bad
/// durations and addresses, duplicate service names and references to unknown services are all errors (SPEC §2).
public enum ConfigLoader {
    /// Where the config is read from when `--config` is not given: `$OUTRIGGER_CONFIG`, else the system path.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment["OUTRIGGER_CONFIG"] ?? "/etc/outrigger/outrigger.yaml"
    }

    /// Reads both files; throws `ConfigErrors` listing every problem found in either.
    public static func load(configPath: String) throws(ConfigErrors) -> LoadedConfig {
        let configText: String
        do {
            configText = try String(contentsOfFile: configPath, encoding: .utf8)
        } catch {
            throw ConfigErrors([
                ConfigError(
                    file: configPath, line: 0, column: 0, message: "cannot read config file: \(Self.reason(error))")
            ])
        }
        var reader = YAMLReader(file: configPath)
        let folder = Self.folder(of: configPath)
        let parsed = Self.parseConfig(text: configText, reader: &reader, folder: folder)
        var config = parsed.config
        config.path = Self.absolute(configPath)
        var errors = reader.errors

        let registryText: String?
        do {
            registryText = try String(contentsOfFile: config.registryPath, encoding: .utf8)
        } catch {
            var registryReader = YAMLReader(file: configPath)
            registryReader.error(
                parsed.registryNode,
                "cannot read registry file '\(config.registryPath)': \(Self.reason(error))")
            errors += registryReader.errors
            registryText = nil
        }
        var registry = Registry(services: [])
        if let registryText {
            var registryReader = YAMLReader(file: config.registryPath)
            registry = Self.parseRegistry(
                text: registryText, reader: &registryReader, defaults: config.defaults,
                folder: Self.folder(of: config.registryPath))
            errors += registryReader.errors
            // Routes may only name services that exist: Outrigger is never an open proxy (SPEC §3).
            var routeReader = YAMLReader(file: configPath)
            for (position, route) in config.routes.enumerated() where registry.services[route.service] == nil {
                let (node, index) = parsed.routeServiceNodes[position]
                routeReader.error(
                    node,
                    "routes[\(index)].service '\(route.service)' is not a service of \(config.registryPath)")
            }
            errors += routeReader.errors
        }
        guard errors.isEmpty else {
            // Each file's problems in line order, the config's first: the order an editor walks them.
            let files = errors.reduce(into: [String]()) { if !$0.contains($1.file) { $0.append($1.file) } }
            let sorted = files.flatMap { file in
                errors.filter { $0.file == file }.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
            }
            throw ConfigErrors(sorted)
        }
        return LoadedConfig(config: config, registry: registry)
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if nsError.domain == NSCocoaErrorDomain && nsError.code == NSFileReadNoSuchFileError {
            return "No such file or directory"
        }
        return nsError.localizedDescription
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Resolves a path written in a config file against that file's folder (SPEC §2).
    static func resolve(_ path: String, folder: String) -> String {
        if path.hasPrefix("/") { return path }
        return folder == "." ? path : folder + "/" + path
    }

    // === outrigger.yaml ===

    struct ParsedConfig {
        var config = OutriggerConfig()
        var registryNode: Node?
        var adminListenNode: Node?
        var routeServiceNodes: [(node: Node?, index: Int)] = []
    }

    static func parseConfig(text: String, reader: inout YAMLReader, folder: String) -> ParsedConfig {
        var result = ParsedConfig()
        result.config.registryPath = Self.resolve("registry.yaml", folder: folder)
        guard let root = reader.compose(text) else {
            if reader.errors.isEmpty { reader.fileError("config file is empty") }
            return result
        }
        let keys = [
            "listen", "admin", "registry", "workers", "limits", "drain_timeout", "access_log", "tracing", "routes",
            "defaults",
        ]
        guard let pairs = reader.mapping(root, at: "the config", allowed: keys) else { return result }
        var config = result.config
        for (key, keyNode, value) in pairs {
            switch key {
            case "listen":
                if let address = Self.listenAddress(value, at: "listen", reader: &reader) { config.listen = address }
            case "admin":
                result.adminListenNode = Self.parseAdmin(value, into: &config.admin, reader: &reader)
            case "registry":
                result.registryNode = value
                if let path = reader.string(value, at: "registry") {
                    config.registryPath = Self.resolve(path, folder: folder)
                }
            case "workers":
                if value.scalar?.string == "auto" {
                    config.workers = nil
                } else if let count = reader.int(value, at: "workers (a number or auto)", range: 1...1024) {
                    config.workers = count
                }
            case "limits":
                Self.parseLimits(value, into: &config.limits, reader: &reader)
            case "drain_timeout":
                if let ms = reader.duration(value, at: "drain_timeout") { config.drainTimeoutMs = ms }
            case "access_log":
                if let text = reader.string(value, at: "access_log") {
                    switch text {
                    case "stdout": config.accessLog = .stdout
                    case "off": config.accessLog = .off
                    case "": reader.error(value, "access_log must be stdout, off or a file path")
                    default: config.accessLog = .file(Self.resolve(text, folder: folder))
                    }
                }
            case "tracing":
                Self.parseTracing(value, into: &config.tracing, reader: &reader)
            case "routes":
                let parsed = Self.parseRoutes(value, reader: &reader)
                config.routes = parsed.routes
                result.routeServiceNodes = parsed.serviceNodes
            case "defaults":
                config.defaults = Self.parsePolicy(
                    value, base: ServicePolicy(), at: "defaults", folder: folder, reader: &reader)
            default:
                reader.error(keyNode, "unknown key '\(key)'")
            }
        }
        if !config.admin.listen.isLocalOnly && config.admin.token == nil {
            reader.error(
                result.adminListenNode ?? root,
                "admin.listen \(config.admin.listen) is not a loopback address: set admin.token to expose the admin API"
            )
        }
        result.config = config
        return result
    }

    static func listenAddress(_ node: Node, at path: String, reader: inout YAMLReader) -> ListenAddress? {
        guard let text = reader.string(node, at: path) else { return nil }
        switch ListenAddress.parse(text) {
        case .success(let address): return address
        case .failure(let error):
            reader.error(node, "\(path): \(error.message)")
            return nil
        }
    }

    static func parseAdmin(_ node: Node, into admin: inout OutriggerConfig.Admin, reader: inout YAMLReader) -> Node? {
        guard let pairs = reader.mapping(node, at: "admin", allowed: ["listen", "token"]) else { return nil }
        var listenNode: Node?
        for (key, _, value) in pairs {
            switch key {
            case "listen":
                listenNode = value
                if let address = Self.listenAddress(value, at: "admin.listen", reader: &reader) {
                    admin.listen = address
                }
            default:
                if let token = reader.string(value, at: "admin.token") {
                    if token.isEmpty {
                        reader.error(value, "admin.token must not be empty")
                    } else {
                        admin.token = token
                    }
                }
            }
        }
        return listenNode
    }

    static func parseLimits(_ node: Node, into limits: inout OutriggerConfig.Limits, reader: inout YAMLReader) {
        let keys = [
            "max_connections", "max_request_header_bytes", "max_request_body_bytes", "header_read_timeout",
            "client_idle_timeout",
        ]
        guard let pairs = reader.mapping(node, at: "limits", allowed: keys) else { return }
        for (key, _, value) in pairs {
            let path = "limits.\(key)"
            switch key {
            case "max_connections":
                if let v = reader.int(value, at: path, range: 1...10_000_000) { limits.maxConnections = v }
            case "max_request_header_bytes":
                if let v = reader.int(value, at: path, range: 1024...16_777_216) { limits.maxRequestHeaderBytes = v }
            case "max_request_body_bytes":
                if let v = reader.int(value, at: path, range: 0...Int.max) { limits.maxRequestBodyBytes = Int64(v) }
            case "header_read_timeout":
                if let v = reader.duration(value, at: path) { limits.headerReadTimeoutMs = v }
            default:
                if let v = reader.duration(value, at: path) { limits.clientIdleTimeoutMs = v }
            }
        }
    }

    static func parseTracing(_ node: Node, into tracing: inout OutriggerConfig.Tracing, reader: inout YAMLReader) {
        guard let pairs = reader.mapping(node, at: "tracing", allowed: ["formats", "sample_ratio"]) else { return }
        for (key, _, value) in pairs {
            if key == "sample_ratio" {
                if let v = reader.double(value, at: "tracing.sample_ratio", range: 0...1) { tracing.sampleRatio = v }
                continue
            }
            guard let items = reader.sequence(value, at: "tracing.formats") else { continue }
            var formats: [OutriggerConfig.TraceFormat] = []
            for item in items {
                guard let text = reader.string(item, at: "tracing.formats item") else { continue }
                guard let format = OutriggerConfig.TraceFormat(rawValue: text) else {
                    reader.error(item, "unknown trace format '\(text)' (expected w3c or b3)")
                    continue
                }
                formats.append(format)
            }
            tracing.formats = formats
        }
    }

    static func parseRoutes(
        _ node: Node, reader: inout YAMLReader
    ) -> (routes: [OutriggerConfig.Route], serviceNodes: [(node: Node?, index: Int)]) {
        guard let items = reader.sequence(node, at: "routes") else { return ([], []) }
        var routes: [OutriggerConfig.Route] = []
        var serviceNodes: [(node: Node?, index: Int)] = []
        for (index, item) in items.enumerated() {
            let path = "routes[\(index)]"
            guard
                let pairs = reader.mapping(item, at: path, allowed: ["path_prefix", "host", "service", "strip_prefix"])
            else { continue }
            var prefix: String?
            var host: String?
            var service: String?
            var serviceNode: Node?
            var strip = false
            for (key, _, value) in pairs {
                switch key {
                case "path_prefix":
                    prefix = reader.string(value, at: "\(path).path_prefix")
                    if let p = prefix, !p.hasPrefix("/") {
                        reader.error(value, "\(path).path_prefix must start with '/', not '\(p)'")
                        prefix = nil
                    }
                case "host":
                    host = reader.string(value, at: "\(path).host")?.lowercased()
                case "service":
                    service = reader.string(value, at: "\(path).service")
                    serviceNode = value
                default:
                    strip = reader.bool(value, at: "\(path).strip_prefix") ?? false
                }
            }
            if pairs.first(where: { $0.key == "path_prefix" }) == nil {
                reader.error(item, "\(path) needs a path_prefix")
            }
            if serviceNode == nil { reader.error(item, "\(path) needs a service") }
            if let prefix, let service {
                routes.append(.init(pathPrefix: prefix, host: host, service: service, stripPrefix: strip))
                serviceNodes.append((serviceNode, index))
            }
        }
        return (routes, serviceNodes)
    }

    static let policyKeys = [
        "connect_timeout", "request_timeout", "idle_timeout", "max_concurrent_requests", "balance", "breaker",
        "retries",
        "tls_verify", "tls_ca_file",
    ]

    static func parsePolicy(
        _ node: Node, base: ServicePolicy, at path: String, folder: String, reader: inout YAMLReader
    ) -> ServicePolicy {
        var policy = base
        guard let pairs = reader.mapping(node, at: path, allowed: Self.policyKeys) else { return policy }
        for (key, _, value) in pairs {
            Self.applyPolicyKey(key, value, to: &policy, at: path, folder: folder, reader: &reader)
        }
        return policy
    }

    static func applyPolicyKey(
        _ key: String, _ value: Node, to policy: inout ServicePolicy, at path: String, folder: String,
        reader: inout YAMLReader
    ) {
        let keyPath = "\(path).\(key)"
        switch key {
        case "connect_timeout":
            if let v = reader.duration(value, at: keyPath) {
                if v == 0 { reader.error(value, "\(keyPath) must be more than 0") } else { policy.connectTimeoutMs = v }
            }
        case "request_timeout":
            if let v = reader.duration(value, at: keyPath) { policy.requestTimeoutMs = v }
        case "idle_timeout":
            if let v = reader.duration(value, at: keyPath) { policy.idleTimeoutMs = v }
        case "max_concurrent_requests":
            if let v = reader.int(value, at: keyPath, range: 1...10_000_000) { policy.maxConcurrentRequests = v }
        case "balance":
            if let text = reader.string(value, at: keyPath) {
                if let balance = Balance(rawValue: text) {
                    policy.balance = balance
                } else {
                    reader.error(value, "\(keyPath) must be round_robin or least_request, not '\(text)'")
                }
            }
        case "breaker":
            Self.parseBreaker(value, into: &policy.breaker, at: keyPath, reader: &reader)
        case "retries":
            Self.parseRetries(value, into: &policy.retries, at: keyPath, reader: &reader)
        case "tls_verify":
            if let v = reader.bool(value, at: keyPath) { policy.tlsVerify = v }
        case "tls_ca_file":
            if let v = reader.string(value, at: keyPath) { policy.tlsCAFile = Self.resolve(v, folder: folder) }
        default:
            reader.error(value, "unknown key '\(key)' in \(path)")
        }
    }

    static func parseBreaker(_ node: Node, into breaker: inout BreakerPolicy, at path: String, reader: inout YAMLReader)
    {
        let keys = [
            "consecutive_failures", "failure_rate", "minimum_requests", "window", "open_for", "half_open_requests",
        ]
        guard let pairs = reader.mapping(node, at: path, allowed: keys) else { return }
        for (key, _, value) in pairs {
            let keyPath = "\(path).\(key)"
            switch key {
            case "consecutive_failures":
                if let v = reader.int(value, at: keyPath, range: 1...1_000_000) { breaker.consecutiveFailures = v }
            case "failure_rate":
                if let v = reader.double(value, at: keyPath, range: 0.01...1) { breaker.failureRate = v }
            case "minimum_requests":
                if let v = reader.int(value, at: keyPath, range: 1...1_000_000) { breaker.minimumRequests = v }
            case "window":
                if let v = reader.duration(value, at: keyPath) {
                    if v < 1000 { reader.error(value, "\(keyPath) must be at least 1s") } else { breaker.windowMs = v }
                }
            case "open_for":
                if let v = reader.duration(value, at: keyPath) {
                    if v == 0 { reader.error(value, "\(keyPath) must be more than 0") } else { breaker.openForMs = v }
                }
            default:
                if let v = reader.int(value, at: keyPath, range: 1...10_000) { breaker.halfOpenRequests = v }
            }
        }
    }

    static func parseRetries(_ node: Node, into retries: inout RetryPolicy, at path: String, reader: inout YAMLReader) {
        let keys = ["attempts", "per_try_timeout", "retry_on", "budget_percent"]
        guard let pairs = reader.mapping(node, at: path, allowed: keys) else { return }
        for (key, _, value) in pairs {
            let keyPath = "\(path).\(key)"
            switch key {
            case "attempts":
                if let v = reader.int(value, at: keyPath, range: 0...10) { retries.attempts = v }
            case "per_try_timeout":
                if let v = reader.duration(value, at: keyPath) { retries.perTryTimeoutMs = v }
            case "budget_percent":
                if let v = reader.int(value, at: keyPath, range: 0...100) { retries.budgetPercent = v }
            default:
                guard let items = reader.sequence(value, at: keyPath) else { continue }
                var conditions: [RetryPolicy.Condition] = []
                for item in items {
                    guard let text = item.scalar?.string, let condition = RetryPolicy.Condition(text) else {
                        reader.error(
                            item,
                            "\(keyPath): unknown condition '\(item.scalar?.string ?? "?")' "
                                + "(expected connect_failure, reset, timeout or a 5xx status)")
                        continue
                    }
                    conditions.append(condition)
                }
                retries.retryOn = conditions
            }
        }
    }

    // === registry.yaml ===

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

    static func parseService(
        name: String, _ node: Node, defaults: ServicePolicy, folder: String, reader: inout YAMLReader
    ) -> ServiceConfig? {
        let path = "services.\(name)"
        guard let pairs = reader.mapping(node, at: path, allowed: ["endpoints"] + Self.policyKeys) else { return nil }
        var policy = defaults
        var endpoints: [Endpoint] = []
        var sawEndpoints = false
        for (key, _, value) in pairs {
            if key == "endpoints" {
                sawEndpoints = true
                guard let items = reader.sequence(value, at: "\(path).endpoints") else { continue }
                if items.isEmpty { reader.error(value, "\(path).endpoints is empty: a service needs at least one") }
                for item in items {
                    guard let text = reader.string(item, at: "\(path).endpoints item") else { continue }
                    switch Endpoint.parse(text) {
                    case .success(var endpoint):
                        if let socket = endpoint.socketPath {
                            endpoint.socketPath = Self.resolve(socket, folder: folder)
                        }
                        endpoints.append(endpoint)
                    case .failure(let error):
                        reader.error(item, "\(path).endpoints: \(error.message)")
                    }
                }
            } else {
                Self.applyPolicyKey(key, value, to: &policy, at: path, folder: folder, reader: &reader)
            }
        }
        if !sawEndpoints { reader.error(node, "\(path) needs 'endpoints'") }
        return ServiceConfig(name: name, endpoints: endpoints, policy: policy)
    }
}
