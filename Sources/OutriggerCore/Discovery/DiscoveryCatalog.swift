/// The services etcd describes (SPEC §12), from the keys under the prefix: `PREFIX/NAME/endpoints/ID` holds one
/// endpoint, `PREFIX/NAME/config` a JSON object of the registry's per-service keys other than `endpoints`.
///
/// Pure: the watcher feeds it the keys it lists and the changes it sees; it answers the services they make, with
/// every bad key reported and skipped. A service once seen stays known with no endpoints when its last one goes
/// (it then answers `503 no_endpoints`, not `404 unknown_service`).
struct DiscoveryCatalog: Equatable {
    let prefix: String
    /// Every key under the prefix and its value.
    private(set) var entries: [String: [UInt8]] = [:]
    /// Services seen since start (or in the cache).
    private(set) var known: Set<String> = []
    /// The etcd revision the entries reflect.
    var revision: Int64 = 0

    init(prefix: String) {
        self.prefix = prefix
    }

    /// Replaces every entry (a full listing).
    mutating func replaceAll(_ pairs: [EtcdJSON.KeyValue], revision: Int64) {
        self.entries = Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        self.revision = revision
        self.noteServices()
    }

    /// Applies a watch's changes.
    mutating func apply(_ events: [EtcdJSON.Event], revision: Int64) {
        for event in events {
            switch event {
            case .put(let pair): self.entries[pair.key] = pair.value
            case .delete(let key): self.entries[key] = nil
            }
        }
        self.revision = max(self.revision, revision)
        self.noteServices()
    }

    /// Restores a cached catalog (its services are known again).
    mutating func restore(entries: [String: [UInt8]], known: Set<String>, revision: Int64) {
        self.entries = entries
        self.known = known
        self.revision = revision
        self.noteServices()
    }

    private mutating func noteServices() {
        for key in self.entries.keys {
            if case .success(let parsed) = Self.parse(key: key, prefix: self.prefix) {
                self.known.insert(parsed.service)
            }
        }
    }

    /// Where a key belongs.
    enum KeyKind: Equatable {
        case endpoint(id: String)
        case config
    }

    static func parse(key: String, prefix: String) -> Result<(service: String, kind: KeyKind), DiscoveryProblem> {
        guard key.hasPrefix(prefix) else { return .failure(.init(key: key, message: "outside the prefix")) }
        let parts = key.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        let name = parts.first.map(String.init) ?? ""
        guard ConfigLoader.isValidServiceName(name) else {
            return .failure(
                .init(key: key, message: "'\(name)' is not a service name (lower-case letters, digits, '-', '.', '_')"))
        }
        if parts.count == 3 && parts[1] == "endpoints" && !parts[2].isEmpty {
            return .success((name, .endpoint(id: String(parts[2]))))
        }
        if parts.count == 2 && parts[1] == "config" { return .success((name, .config)) }
        return .failure(.init(key: key, message: "expected \(prefix)NAME/endpoints/ID or \(prefix)NAME/config"))
    }

    /// The services the entries make, over `defaults`; those in `skip` (the registry file's) are left out and
    /// reported as conflicts. Every bad key is reported and skipped.
    func services(defaults: ServicePolicy, skip: Set<String>) -> DiscoveredServices {
        var endpoints: [String: [(id: String, endpoint: Endpoint)]] = [:]
        var configs: [String: ServicePolicy] = [:]
        var problems: [DiscoveryProblem] = []
        var conflicts: Set<String> = []
        for key in self.entries.keys.sorted() {
            let value = self.entries[key]!
            let parsed: (service: String, kind: KeyKind)
            switch Self.parse(key: key, prefix: self.prefix) {
            case .failure(let problem):
                problems.append(problem)
                continue
            case .success(let result): parsed = result
            }
            if skip.contains(parsed.service) {
                conflicts.insert(parsed.service)
                continue
            }
            let text = String(decoding: value, as: UTF8.self)
            switch parsed.kind {
            case .endpoint(let id):
                switch Endpoint.parse(text.trimmingWhitespace) {
                case .success(let endpoint): endpoints[parsed.service, default: []].append((id, endpoint))
                case .failure(let error): problems.append(.init(key: key, message: error.message))
                }
            case .config:
                var reader = YAMLReader(file: key)
                if let node = reader.compose(text), node.mapping != nil {
                    let policy = ConfigLoader.parsePolicy(
                        node, base: defaults, at: "config", folder: "/", reader: &reader)
                    if reader.errors.isEmpty {
                        configs[parsed.service] = policy
                    } else {
                        problems.append(
                            .init(key: key, message: reader.errors.map(\.description).joined(separator: "; ")))
                    }
                } else {
                    let detail = reader.errors.first.map(\.description) ?? "not a JSON object"
                    problems.append(.init(key: key, message: "the config must be a JSON object: \(detail)"))
                }
            }
        }
        var services: [ServiceConfig] = []
        for name in self.known.sorted() where !skip.contains(name) {
            let list = (endpoints[name] ?? []).sorted { $0.id < $1.id }.map(\.endpoint)
            services.append(ServiceConfig(name: name, endpoints: list, policy: configs[name] ?? defaults))
        }
        for name in self.known where skip.contains(name) { conflicts.insert(name) }
        return DiscoveredServices(services: services, problems: problems, conflicts: conflicts.sorted())
    }
}

/// A key etcd holds that could not be used.
public struct DiscoveryProblem: Error, Equatable, Sendable {
    public var key: String
    public var message: String
}

/// What the catalog makes of its keys.
struct DiscoveredServices: Sendable {
    var services: [ServiceConfig]
    var problems: [DiscoveryProblem]
    /// Services both in the registry file and in etcd: the file's are used.
    var conflicts: [String]
}
