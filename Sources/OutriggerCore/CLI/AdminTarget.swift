import Glibc

/// The admin API `outrigger status` reads (SPEC §14): `--admin` and `--token` when given, otherwise what the config
/// file says, so `outrigger status` alone works on a host running the shipped config. Without any config file at
/// the default path, the built-in admin address (127.0.0.1:9901, the shipped config's) is used.
struct AdminTarget: Equatable, Sendable {
    /// The base URL requests go to (`http://localhost` for a unix socket).
    var baseURL: String
    var unixSocket: String?
    var token: String?
    /// How messages name it.
    var display: String

    /// Resolves the target: an explicit `--admin`, else the config's `admin.listen`; `--token`, else the config's
    /// token (`admin.token`, `token_file` or `OUTRIGGER_ADMIN_TOKEN`, as the daemon reads them).
    static func resolve(
        _ options: StatusOptions, environment: [String: String],
        defaultPath: String = ConfigLoader.defaultPath(environment: [:])
    ) throws(StatusFailure) -> AdminTarget {
        let explicitPath = options.config ?? environment["OUTRIGGER_CONFIG"]
        let configPath = explicitPath ?? defaultPath
        var target: AdminTarget
        var configToken: String?
        if let admin = options.admin {
            target = try Self.parse(admin)
            // The config's token still applies to an explicit address when the file can be read.
            configToken = (try? ConfigLoader.load(configPath: configPath, environment: environment))?.config.admin.token
            configToken = configToken ?? ConfigLoader.environmentToken(environment)
        } else if explicitPath == nil, access(configPath, F_OK) != 0 {
            // No config file anywhere it was looked for: a daemon started without one, or on another config (as
            // scripts/run.sh's), listens on the built-in admin address, the shipped config's too.
            target = Self.target(for: OutriggerConfig.Admin().listen)
            configToken = ConfigLoader.environmentToken(environment)
        } else {
            let loaded: LoadedConfig
            do {
                loaded = try ConfigLoader.load(configPath: configPath, environment: environment)
            } catch {
                let first = error.errors.first.map(\.description) ?? "unreadable"
                throw StatusFailure(
                    "cannot read the admin address from \(configPath) (\(first)); pass --admin URL or --config PATH")
            }
            target = Self.target(for: loaded.config.admin.listen)
            configToken = loaded.config.admin.token
        }
        target.token = options.token ?? configToken
        return target
    }

    /// `http://HOST:PORT`, `https://...`, `HOST:PORT` or `unix:PATH`.
    static func parse(_ text: String) throws(StatusFailure) -> AdminTarget {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else {
                throw StatusFailure("--admin unix: needs a socket path, as unix:/run/outrigger/admin.sock")
            }
            return AdminTarget(baseURL: "http://localhost", unixSocket: path, display: text)
        }
        var url = text
        while url.hasSuffix("/") { url.removeLast() }
        if !url.hasPrefix("http://") && !url.hasPrefix("https://") {
            guard url.contains(":"), !url.contains("/") else {
                throw StatusFailure("--admin must be http://HOST:PORT, HOST:PORT or unix:PATH, not '\(text)'")
            }
            url = "http://" + url
        }
        return AdminTarget(baseURL: url, display: url)
    }

    /// The address a local client reaches a listener on: a wildcard bind is reached on loopback.
    static func target(for listen: ListenAddress) -> AdminTarget {
        switch listen {
        case .unix(let path):
            return AdminTarget(baseURL: "http://localhost", unixSocket: path, display: "unix:\(path)")
        case .inet(let host, let port):
            let reachable = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host
            let url = "http://\(reachable.contains(":") ? "[\(reachable)]" : reachable):\(port)"
            return AdminTarget(baseURL: url, display: url)
        }
    }
}

/// Why `outrigger status` could not show the table: one line for the terminal, exit 1.
struct StatusFailure: Error, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
