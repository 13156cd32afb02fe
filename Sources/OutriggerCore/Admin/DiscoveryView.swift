/// The etcd source as `/services` and `/stats` show it (SPEC §12): how current it is, since when, why not.
struct DiscoveryView: Encodable {
    struct ProblemView: Encodable {
        var key: String
        var error: String
    }

    var source = "etcd"
    var state: String
    var since: String
    var lastError: String?
    var endpoint: String?
    var revision: Int64
    var fromCache: Bool
    var prefix: String
    /// Keys etcd holds that were skipped, with why.
    var badKeys: [ProblemView]
    /// Services in both the registry file and etcd: the file's are used.
    var conflicts: [String]
    var services: Int

    enum CodingKeys: String, CodingKey {
        case source, state, since, endpoint, revision, prefix, conflicts, services
        case lastError = "last_error"
        case fromCache = "from_cache"
        case badKeys = "bad_keys"
    }

    init?(_ runtime: DaemonRuntime) {
        guard let discovery = runtime.discovery else { return nil }
        let status = discovery.status
        self.state = status.state.rawValue
        self.since = status.since
        self.lastError = status.lastError
        self.endpoint = status.endpoint
        self.revision = status.revision
        self.fromCache = status.fromCache
        self.prefix = discovery.settings.prefix
        self.badKeys = status.problems.map { ProblemView(key: $0.key, error: $0.message) }
        self.conflicts = status.conflicts
        self.services = runtime.proxy.state().loaded.etcdServices.count
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.source, forKey: .source)
        try container.encode(self.state, forKey: .state)
        try container.encode(self.since, forKey: .since)
        try container.encode(self.lastError, forKey: .lastError)
        try container.encode(self.endpoint, forKey: .endpoint)
        try container.encode(self.revision, forKey: .revision)
        try container.encode(self.fromCache, forKey: .fromCache)
        try container.encode(self.prefix, forKey: .prefix)
        try container.encode(self.badKeys, forKey: .badKeys)
        try container.encode(self.conflicts, forKey: .conflicts)
        try container.encode(self.services, forKey: .services)
    }
}
