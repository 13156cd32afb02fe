import Glibc

/// Loads and validates `outrigger.yaml` and the registry it names, reporting every problem with its position.
///
/// Each key is documented in `config/outrigger.yaml` and `config/registry.yaml`. Unknown keys, wrong types, bad
/// durations and addresses, duplicate service names and references to unknown services are all errors (SPEC §2).
public enum ConfigLoader {
    /// Where the config is read from when `--config` is not given: `$OUTRIGGER_CONFIG`, else the system path.
    public static func defaultPath(environment: [String: String] = Posix.environment()) -> String {
        environment["OUTRIGGER_CONFIG"] ?? "/etc/outrigger/outrigger.yaml"
    }

    /// The environment variable that may carry the admin token (SPEC §16).
    public static let adminTokenVariable = "OUTRIGGER_ADMIN_TOKEN"

    /// The admin token `OUTRIGGER_ADMIN_TOKEN` gives, trimmed; nil when unset or blank. The daemon and
    /// `outrigger status` read it alike.
    static func environmentToken(_ environment: [String: String]) -> String? {
        guard let token = environment[Self.adminTokenVariable]?.trimmingWhitespace, !token.isEmpty else { return nil }
        return token
    }

    /// Reads both files; throws `ConfigErrors` listing every problem found in either. `environment` supplies
    /// `OUTRIGGER_ADMIN_TOKEN` when the config names no token.
    public static func load(
        configPath: String, environment: [String: String] = Posix.environment()
    ) throws(ConfigErrors) -> LoadedConfig {
        let configText: String
        do {
            configText = try Posix.readText(configPath)
        } catch {
            throw ConfigErrors([
                ConfigError(
                    file: configPath, line: 0, column: 0, message: "cannot read config file: \(Self.reason(error))")
            ])
        }
        var reader = YAMLReader(file: configPath)
        let folder = Self.folder(of: configPath)
        let parsed = Self.parseConfig(
            text: configText, reader: &reader, folder: folder, environmentToken: Self.environmentToken(environment))
        var config = parsed.config
        config.path = Self.absolute(configPath)
        var errors = reader.errors
        // SPEC §13: the OTLP variables fill what the file leaves out, and turn export on by themselves.
        let environmentEndpoint =
            environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        if config.tracing.otlp != nil || !(environmentEndpoint ?? "").isEmpty {
            var settings = config.tracing.otlp ?? OTLPSettings()
            for problem in settings.applyEnvironment(environment, fileKeys: config.tracing.otlpFileKeys) {
                errors.append(ConfigError(file: "environment", line: 0, column: 0, message: problem))
            }
            config.tracing.otlp = settings
        }
        var warnings = reader.warnings

        let registryText: String?
        do {
            registryText = try Posix.readText(config.registryPath)
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
            warnings += registryReader.warnings
            // Routes may only name services that exist: Outrigger is never an open proxy (SPEC §3).
            var routeReader = YAMLReader(file: configPath)
            for (position, route) in config.routes.enumerated() where registry.services[route.service] == nil {
                let (node, index) = parsed.routeServiceNodes[position]
                if config.etcd != nil, let node {
                    // With discovery the service may come from etcd (SPEC §12); the route waits for it.
                    routeReader.warn(
                        node,
                        "routes[\(index)].service '\(route.service)' is not in \(config.registryPath): "
                            + "the route applies once etcd has the service")
                } else {
                    routeReader.error(
                        node,
                        "routes[\(index)].service '\(route.service)' is not a service of \(config.registryPath)")
                }
            }
            errors += routeReader.errors
            warnings += routeReader.warnings
        }
        guard errors.isEmpty else {
            // Each file's problems in line order, the config's first: the order an editor walks them.
            let files = errors.reduce(into: [String]()) { if !$0.contains($1.file) { $0.append($1.file) } }
            let sorted = files.flatMap { file in
                errors.filter { $0.file == file }.sorted { ($0.line, $0.column) < ($1.line, $1.column) }
            }
            throw ConfigErrors(sorted)
        }
        var loaded = LoadedConfig(config: config, registry: registry)
        loaded.warnings = warnings
        return loaded
    }

    static func reason(_ error: any Error) -> String {
        (error as? FileReadError)?.reason ?? "\(error)"
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return Posix.currentDirectory() + "/" + path
    }

    /// Resolves a path written in a config file against that file's folder (SPEC §2).
    static func resolve(_ path: String, folder: String) -> String {
        if path.hasPrefix("/") { return path }
        return folder == "." ? path : folder + "/" + path
    }
}
