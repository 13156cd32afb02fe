// `outrigger.yaml`: one key table per section (SPEC §2, §16).
extension ConfigLoader {
    /// The daemon's settings plus the nodes later checks point at.
    struct ParsedConfig {
        var config = OutriggerConfig()
        var registryNode: YAMLNode?
        var adminListenNode: YAMLNode?
        var routeServiceNodes: [(node: YAMLNode?, index: Int)] = []
    }

    static func parseConfig(
        text: String, reader: inout YAMLReader, folder: String, environmentToken: String? = nil
    ) -> ParsedConfig {
        var result = ParsedConfig()
        result.config.registryPath = Self.resolve("registry.yaml", folder: folder)
        guard let root = reader.compose(text) else {
            if reader.errors.isEmpty { reader.fileError("config file is empty") }
            return result
        }
        guard
            Self.configTable(folder: folder).read(root, at: "the config", prefix: "", into: &result, reader: &reader)
                != nil
        else { return result }
        if result.config.admin.token == nil, let token = environmentToken {
            result.config.admin.token = token
            result.config.admin.tokenSource = .environment
        }
        let admin = result.config.admin
        if !admin.listen.isLocalOnly && admin.token == nil {
            reader.error(
                result.adminListenNode ?? root,
                "admin.listen \(admin.listen) is not a loopback address: set admin.token, admin.token_file or "
                    + "\(Self.adminTokenVariable) to expose the admin API")
        }
        return result
    }

    static func configTable(folder: String) -> ConfigKeyTable<ParsedConfig> {
        ConfigKeyTable([
            (
                "listen",
                { value, path, parsed, reader in
                    if let address = Self.listenAddress(value, at: path, reader: &reader) {
                        parsed.config.listen = address
                    }
                }
            ),
            (
                "admin",
                { value, path, parsed, reader in
                    let pairs = Self.adminTable(folder: folder).read(
                        value, at: path, prefix: path, into: &parsed.config.admin, reader: &reader)
                    parsed.adminListenNode = pairs?.first(where: { $0.key == "listen" })?.value
                    if let pairs, pairs.contains(where: { $0.key == "token" }),
                        let file = pairs.first(where: { $0.key == "token_file" })
                    {
                        reader.error(file.keyNode, "admin.token and admin.token_file are both set: keep one")
                    }
                }
            ),
            (
                "tls",
                { value, path, parsed, reader in
                    parsed.config.tls = Self.parseInboundTLS(value, at: path, folder: folder, reader: &reader)
                }
            ),
            (
                "registry",
                { value, path, parsed, reader in
                    parsed.registryNode = value
                    if let file = reader.string(value, at: path) {
                        parsed.config.registryPath = Self.resolve(file, folder: folder)
                    }
                }
            ),
            (
                "workers",
                { value, path, parsed, reader in
                    if value.scalar?.string == "auto" {
                        parsed.config.workers = nil
                    } else if let count = reader.int(value, at: "\(path) (a number or auto)", range: 1...1024) {
                        parsed.config.workers = count
                    }
                }
            ),
            (
                "limits",
                { value, path, parsed, reader in
                    Self.limitsTable.read(value, at: path, prefix: path, into: &parsed.config.limits, reader: &reader)
                }
            ),
            (
                "drain_timeout",
                { value, path, parsed, reader in
                    if let ms = reader.duration(value, at: path) { parsed.config.drainTimeoutMs = ms }
                }
            ),
            (
                "access_log",
                { value, path, parsed, reader in
                    guard let text = reader.string(value, at: path) else { return }
                    switch text {
                    case "stdout": parsed.config.accessLog = .stdout
                    case "off": parsed.config.accessLog = .off
                    case "": reader.error(value, "access_log must be stdout, off or a file path")
                    default: parsed.config.accessLog = .file(Self.resolve(text, folder: folder))
                    }
                }
            ),
            (
                "tracing",
                { value, path, parsed, reader in
                    Self.tracingTable.read(value, at: path, prefix: path, into: &parsed.config.tracing, reader: &reader)
                }
            ),
            (
                "discovery",
                { value, path, parsed, reader in
                    var settings = EtcdSettings()
                    let discovery = ConfigKeyTable<EtcdSettings>([
                        (
                            "etcd",
                            { value, path, settings, reader in
                                Self.readEtcd(value, at: path, folder: folder, into: &settings, reader: &reader)
                            }
                        )
                    ])
                    if let pairs = discovery.read(value, at: path, prefix: path, into: &settings, reader: &reader),
                        pairs.contains(where: { $0.key == "etcd" })
                    {
                        parsed.config.etcd = settings
                    }
                }
            ),
            (
                "routes",
                { value, _, parsed, reader in
                    let routes = Self.parseRoutes(value, reader: &reader)
                    parsed.config.routes = routes.routes
                    parsed.routeServiceNodes = routes.serviceNodes
                }
            ),
            (
                "defaults",
                { value, path, parsed, reader in
                    parsed.config.defaults = Self.parsePolicy(
                        value, base: ServicePolicy(), at: path, folder: folder, reader: &reader)
                }
            ),
        ])
    }

    /// The TLS listener block (SPEC §18): listen, cert_file and key_file are required; the pair must match.
    static func parseInboundTLS(
        _ node: YAMLNode, at path: String, folder: String, reader: inout YAMLReader
    ) -> OutriggerConfig.InboundTLS? {
        var tls = OutriggerConfig.InboundTLS()
        let errorsBefore = reader.errors.count
        guard
            let pairs = Self.inboundTLSTable(folder: folder).read(
                node, at: path, prefix: path, into: &tls, reader: &reader)
        else { return nil }
        for required in ["listen", "cert_file", "key_file"] where !pairs.contains(where: { $0.key == required }) {
            reader.error(node, "\(path).\(required) is required to serve TLS")
        }
        guard reader.errors.count == errorsBefore else { return nil }
        if let keyNode = pairs.first(where: { $0.key == "key_file" })?.value {
            reader.checkPair(certificate: tls.certFile, key: tls.keyFile, keyNode: keyNode, at: "\(path).key_file")
        }
        return tls
    }

    static func inboundTLSTable(folder: String) -> ConfigKeyTable<OutriggerConfig.InboundTLS> {
        ConfigKeyTable([
            (
                "listen",
                { value, path, tls, reader in
                    if let address = Self.listenAddress(value, at: path, reader: &reader) { tls.listen = address }
                }
            ),
            (
                "cert_file",
                { value, path, tls, reader in
                    if let v = reader.certificateFile(value, at: path, folder: folder) { tls.certFile = v }
                }
            ),
            (
                "key_file",
                { value, path, tls, reader in
                    if let v = reader.keyFile(value, at: path, folder: folder) { tls.keyFile = v }
                }
            ),
            (
                "client_ca_file",
                { value, path, tls, reader in
                    if let v = reader.certificateFile(value, at: path, folder: folder) { tls.clientCAFile = v }
                }
            ),
            (
                "min_version",
                { value, path, tls, reader in
                    guard let text = reader.string(value, at: path) else { return }
                    if let version = OutriggerConfig.InboundTLS.MinimumVersion(rawValue: text) {
                        tls.minVersion = version
                    } else {
                        reader.error(value, "\(path) must be \"1.2\" or \"1.3\", not '\(text)'")
                    }
                }
            ),
            (
                "alpn",
                { value, path, tls, reader in
                    guard let items = reader.sequence(value, at: path) else { return }
                    var offered: [String] = []
                    for item in items {
                        guard let name = reader.string(item, at: path) else { continue }
                        switch name {
                        case "http/1.1", "h2":
                            if !offered.contains(name) { offered.append(name) }
                        default:
                            reader.error(item, "\(path) entries must be h2 or http/1.1, not '\(name)'")
                        }
                    }
                    tls.alpn = offered.isEmpty ? ["http/1.1"] : offered
                }
            ),
        ])
    }

    static func listenAddress(_ node: YAMLNode, at path: String, reader: inout YAMLReader) -> ListenAddress? {
        guard let text = reader.string(node, at: path) else { return nil }
        switch ListenAddress.parse(text) {
        case .success(let address): return address
        case .failure(let error):
            reader.error(node, "\(path): \(error.message)")
            return nil
        }
    }

    static func adminTable(folder: String) -> ConfigKeyTable<OutriggerConfig.Admin> {
        ConfigKeyTable([
            (
                "listen",
                { value, path, admin, reader in
                    if let address = Self.listenAddress(value, at: path, reader: &reader) { admin.listen = address }
                }
            ),
            (
                "token",
                { value, path, admin, reader in
                    guard let token = reader.string(value, at: path) else { return }
                    if token.isEmpty {
                        reader.error(value, "\(path) must not be empty")
                    } else {
                        admin.token = token
                        admin.tokenSource = .config
                    }
                }
            ),
            (
                "token_file",
                { value, path, admin, reader in
                    // SPEC §16: the file's contents, trimmed; unreadable or empty is an error at this key.
                    guard let file = reader.string(value, at: path) else { return }
                    let resolved = Self.resolve(file, folder: folder)
                    let text: String
                    do {
                        text = try Posix.readText(resolved)
                    } catch {
                        reader.error(value, "cannot read \(path) '\(resolved)': \(Self.reason(error))")
                        return
                    }
                    let token = text.trimmingWhitespace
                    if token.isEmpty {
                        reader.error(value, "\(path) '\(resolved)' is empty")
                        return
                    }
                    admin.token = token
                    admin.tokenSource = .file(resolved)
                }
            ),
        ])
    }

    static let limitsTable = ConfigKeyTable<OutriggerConfig.Limits>([
        (
            "max_connections",
            { value, path, limits, reader in
                if let v = reader.int(value, at: path, range: 1...10_000_000) { limits.maxConnections = v }
            }
        ),
        (
            "max_request_header_bytes",
            { value, path, limits, reader in
                if let v = reader.int(value, at: path, range: 1024...16_777_216) { limits.maxRequestHeaderBytes = v }
            }
        ),
        (
            "max_request_body_bytes",
            { value, path, limits, reader in
                if let v = reader.int(value, at: path, range: 0...Int.max) { limits.maxRequestBodyBytes = Int64(v) }
            }
        ),
        (
            "header_read_timeout",
            { value, path, limits, reader in
                if let v = reader.duration(value, at: path) { limits.headerReadTimeoutMs = v }
            }
        ),
        (
            "client_idle_timeout",
            { value, path, limits, reader in
                if let v = reader.duration(value, at: path) { limits.clientIdleTimeoutMs = v }
            }
        ),
        (
            "max_concurrent_streams",
            { value, path, limits, reader in
                if let v = reader.int(value, at: path, range: 1...10_000) { limits.maxConcurrentStreams = v }
            }
        ),
    ])

    static let tracingTable = ConfigKeyTable<OutriggerConfig.Tracing>([
        (
            "formats",
            { value, path, tracing, reader in
                guard let items = reader.sequence(value, at: path) else { return }
                var formats: [OutriggerConfig.TraceFormat] = []
                for item in items {
                    guard let text = reader.string(item, at: "\(path) item") else { continue }
                    guard let format = OutriggerConfig.TraceFormat(rawValue: text) else {
                        reader.error(item, "unknown trace format '\(text)' (expected w3c or b3)")
                        continue
                    }
                    formats.append(format)
                }
                tracing.formats = formats
            }
        ),
        (
            "sample_ratio",
            { value, path, tracing, reader in
                if let v = reader.double(value, at: path, range: 0...1) { tracing.sampleRatio = v }
            }
        ),
        (
            "otlp",
            { value, path, tracing, reader in
                var settings = OTLPSettings()
                if let pairs = otlpTable.read(value, at: path, prefix: path, into: &settings, reader: &reader) {
                    tracing.otlp = settings
                    for (key, _, _) in pairs {
                        switch key {
                        case "endpoint": tracing.otlpFileKeys.insert(.endpoint)
                        case "protocol": tracing.otlpFileKeys.insert(.wireProtocol)
                        case "headers": tracing.otlpFileKeys.insert(.headers)
                        case "service_name": tracing.otlpFileKeys.insert(.serviceName)
                        default: break
                        }
                    }
                }
            }
        ),
    ])

    static let otlpTable = ConfigKeyTable<OTLPSettings>([
        (
            "endpoint",
            { value, path, otlp, reader in
                guard let url = reader.string(value, at: path) else { return }
                guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
                    reader.error(value, "\(path) must be an http:// or https:// URL (OTLP/HTTP), not '\(url)'")
                    return
                }
                otlp.endpoint = url
            }
        ),
        (
            "protocol",
            { value, path, otlp, reader in
                guard let text = reader.string(value, at: path) else { return }
                if let chosen = OTLPSettings.WireProtocol(rawValue: text) {
                    otlp.wireProtocol = chosen
                } else {
                    reader.error(value, "\(path) must be http/protobuf or http/json, not '\(text)'")
                }
            }
        ),
        (
            "headers",
            { value, path, otlp, reader in
                guard let pairs = reader.mapping(value, at: path, allowed: []) else { return }
                for (name, _, headerValue) in pairs {
                    guard let text = reader.string(headerValue, at: "\(path).\(name)") else { continue }
                    otlp.headers.append((name, text))
                }
            }
        ),
        (
            "service_name",
            { value, path, otlp, reader in
                guard let text = reader.string(value, at: path) else { return }
                if text.isEmpty { reader.error(value, "\(path) must not be empty") } else { otlp.serviceName = text }
            }
        ),
    ])

    /// One entry of `routes` while it is read.
    struct RouteDraft {
        var prefix: String?
        var host: String?
        var service: String?
        var serviceNode: YAMLNode?
        var strip = false
    }

    static let routeTable = ConfigKeyTable<RouteDraft>([
        (
            "path_prefix",
            { value, path, route, reader in
                route.prefix = reader.string(value, at: path)
                if let p = route.prefix, !p.hasPrefix("/") {
                    reader.error(value, "\(path) must start with '/', not '\(p)'")
                    route.prefix = nil
                }
            }
        ),
        ("host", { value, path, route, reader in route.host = reader.string(value, at: path)?.lowercased() }),
        (
            "service",
            { value, path, route, reader in
                route.service = reader.string(value, at: path)
                route.serviceNode = value
            }
        ),
        ("strip_prefix", { value, path, route, reader in route.strip = reader.bool(value, at: path) ?? false }),
    ])

    static func parseRoutes(
        _ node: YAMLNode, reader: inout YAMLReader
    ) -> (routes: [OutriggerConfig.Route], serviceNodes: [(node: YAMLNode?, index: Int)]) {
        guard let items = reader.sequence(node, at: "routes") else { return ([], []) }
        var routes: [OutriggerConfig.Route] = []
        var serviceNodes: [(node: YAMLNode?, index: Int)] = []
        for (index, item) in items.enumerated() {
            let path = "routes[\(index)]"
            var draft = RouteDraft()
            guard let pairs = Self.routeTable.read(item, at: path, prefix: path, into: &draft, reader: &reader) else {
                continue
            }
            if !pairs.contains(where: { $0.key == "path_prefix" }) { reader.error(item, "\(path) needs a path_prefix") }
            if draft.serviceNode == nil { reader.error(item, "\(path) needs a service") }
            if let prefix = draft.prefix, let service = draft.service {
                routes.append(.init(pathPrefix: prefix, host: draft.host, service: service, stripPrefix: draft.strip))
                serviceNodes.append((draft.serviceNode, index))
            }
        }
        return (routes, serviceNodes)
    }
}
