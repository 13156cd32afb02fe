/// `discovery.etcd` (SPEC §12): where the service catalog is read from and kept.
public struct EtcdSettings: Sendable, Equatable {
    /// Client URLs, tried in turn (`http://` or `https://`), without a trailing slash.
    public var endpoints: [String] = []
    /// The key prefix, ending in `/`.
    public var prefix = "/outrigger/services/"
    public var username: String?
    public var password: String?
    /// The last-known-good copy of the catalog, absolute (relative paths are resolved against the config file).
    public var cacheFile: String?
    /// CAs for `https://` endpoints instead of the system's.
    public var tlsCAFile: String?

    public init() {}
}
