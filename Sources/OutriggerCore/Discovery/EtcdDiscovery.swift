import Atomics
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// Follows the services under `discovery.etcd.prefix` (SPEC §12): lists them, watches from the revision read,
/// lists again when the watch breaks or its revision was compacted, and hands every change to `onChange` at once.
/// When etcd is unreachable it keeps what it last knew, retries with jittered backoff across the endpoints, and
/// says so in its status. Every successful sync writes the cache file; a start with etcd down reads it.
///
/// The calls block (libcurl easy handles), so they run on a thread of their own.
public final class EtcdDiscovery: Sendable {
    /// How current the catalog is.
    public enum State: String, Sendable {
        case synced
        /// etcd is unreachable (or refused us): the last catalog is served.
        case stale
        /// Not synced since start (the cache may be served).
        case neverSynced = "never_synced"
    }

    /// What the admin API shows.
    public struct Status: Sendable {
        public var state = State.neverSynced
        /// When the state last changed, ISO 8601 UTC.
        public var since: String
        public var lastError: String?
        /// The endpoint of the last successful call.
        public var endpoint: String?
        public var revision: Int64 = 0
        /// The catalog came from the cache file and etcd has not been reached since.
        public var fromCache = false
        public var problems: [DiscoveryProblem] = []
        public var conflicts: [String] = []
    }

    let settings: EtcdSettings
    private let logger: Logger
    private let stop = ManagedAtomic<Bool>(false)
    private let catalog: NIOLockedValueBox<DiscoveryCatalog>
    private let statusBox: NIOLockedValueBox<Status>
    private let onChange: NIOLockedValueBox<(@Sendable (DiscoveryCatalog) -> Void)?> = NIOLockedValueBox(nil)
    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let done = NIOLockedValueBox<Bool>(false)

    public init(settings: EtcdSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.catalog = NIOLockedValueBox(DiscoveryCatalog(prefix: settings.prefix))
        self.statusBox = NIOLockedValueBox(Status(since: AccessRecord.iso8601(Posix.wallClock())))
    }

    public var status: Status { self.statusBox.withLockedValue { $0 } }
    var current: DiscoveryCatalog { self.catalog.withLockedValue { $0 } }

    /// Loads the cache file, if there is one, as the catalog to start from (before etcd answers).
    public func loadCache() {
        guard let path = self.settings.cacheFile else { return }
        guard let text = try? Posix.readText(path) else { return }
        switch DiscoveryCache.decode(text, prefix: self.settings.prefix) {
        case .success(let cached):
            self.catalog.withLockedValue {
                $0.restore(entries: cached.entries, known: cached.known, revision: cached.revision)
            }
            self.statusBox.withLockedValue {
                $0.fromCache = true
                $0.revision = cached.revision
            }
            self.logger.warning(
                "discovery: serving the cached catalog until etcd answers",
                metadata: ["cache": "\(path)", "revision": "\(cached.revision)", "services": "\(cached.known.count)"])
        case .failure(let problem):
            self.logger.warning(
                "discovery: the cache file is unusable", metadata: ["cache": "\(path)", "error": "\(problem)"])
        }
    }

    /// Starts following etcd; `onChange` gets every new catalog (on the discovery thread).
    func start(onChange: @escaping @Sendable (DiscoveryCatalog) -> Void) {
        self.onChange.withLockedValue { $0 = onChange }
        self.thread.start()
        self.thread.submit { _ in self.loop() }
    }

    /// Stops following etcd and waits for the thread (an open watch ends within about a second).
    public func shutdown() async {
        self.stop.store(true, ordering: .relaxed)
        try? await self.thread.shutdownGracefully()
    }

    /// Records problems and conflicts found by the runtime when it applied a catalog.
    func report(problems: [DiscoveryProblem], conflicts: [String]) {
        self.statusBox.withLockedValue {
            $0.problems = problems
            $0.conflicts = conflicts
        }
    }

    // MARK: - the loop (discovery thread)

    private func loop() {
        let client = EtcdClient(settings: self.settings, stop: self.stop)
        var backoffMs = 200
        var next = 0
        var random = FastRandom()
        while !self.stop.load(ordering: .relaxed) {
            let endpoint = self.settings.endpoints[next % self.settings.endpoints.count]
            do {
                try self.follow(endpoint, client: client)
                backoffMs = 200
            } catch {
                if self.stop.load(ordering: .relaxed) { break }
                if error.authExpired { client.dropToken() }
                self.failed(error.description)
                next += 1
                // Full jitter over an exponential backoff (200 ms to 5 s), so many sidecars do not stampede etcd.
                let sleepMs = Int(random.next() % UInt64(backoffMs)) + 50
                backoffMs = min(backoffMs * 2, 5000)
                self.sleep(ms: sleepMs)
            }
        }
    }

    /// One session with one endpoint: list, then watch until the watch ends; returns to list again (compaction).
    private func follow(_ endpoint: String, client: EtcdClient) throws(EtcdClient.Failure) {
        let listing = try client.range(at: endpoint)
        let catalog = self.catalog.withLockedValue { catalog -> DiscoveryCatalog in
            catalog.replaceAll(listing.pairs, revision: listing.revision)
            return catalog
        }
        self.synced(endpoint: endpoint, revision: listing.revision)
        self.publish(catalog)
        var relist = false
        try client.watch(at: endpoint, from: listing.revision + 1) { message in
            switch message {
            case .created, .progress:
                return !self.stop.load(ordering: .relaxed)
            case .events(let revision, let events):
                let catalog = self.catalog.withLockedValue { catalog -> DiscoveryCatalog in
                    catalog.apply(events, revision: revision)
                    return catalog
                }
                self.synced(endpoint: endpoint, revision: revision)
                self.publish(catalog)
                return !self.stop.load(ordering: .relaxed)
            case .compacted(let revision):
                self.logger.info(
                    "discovery: the watched revision was compacted, listing again",
                    metadata: ["compact_revision": "\(revision)"])
                relist = true
                return false
            case .canceled(let reason):
                self.logger.warning("discovery: etcd ended the watch", metadata: ["reason": "\(reason)"])
                relist = true
                return false
            }
        }
        if !relist && !self.stop.load(ordering: .relaxed) {
            throw EtcdClient.Failure(description: "\(endpoint): the watch stream ended")
        }
    }

    private func publish(_ catalog: DiscoveryCatalog) {
        self.onChange.withLockedValue { $0 }?(catalog)
        self.writeCache(catalog)
    }

    private func synced(endpoint: String, revision: Int64) {
        let changed = self.statusBox.withLockedValue { status -> Bool in
            let changed = status.state != .synced
            if changed { status.since = AccessRecord.iso8601(Posix.wallClock()) }
            status.state = .synced
            status.endpoint = endpoint
            status.revision = revision
            status.fromCache = false
            return changed
        }
        if changed {
            self.logger.info(
                "discovery: synced with etcd", metadata: ["endpoint": "\(endpoint)", "revision": "\(revision)"])
        }
    }

    private func failed(_ error: String) {
        let changed = self.statusBox.withLockedValue { status -> Bool in
            let next: State = status.state == .neverSynced ? .neverSynced : .stale
            let changed = status.state != next || status.lastError == nil
            if status.state != next { status.since = AccessRecord.iso8601(Posix.wallClock()) }
            status.state = next
            status.lastError = error
            return changed
        }
        if changed {
            self.logger.warning(
                "discovery: etcd unreachable, serving the last known services", metadata: ["error": "\(error)"])
        }
    }

    private func writeCache(_ catalog: DiscoveryCatalog) {
        guard let path = self.settings.cacheFile else { return }
        let text = DiscoveryCache.encode(catalog)
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            self.logger.warning(
                "discovery: cannot write the cache",
                metadata: ["cache": "\(path)", "error": "\(Posix.errorText(errno))"])
            return
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBufferPointer { Posix.writeAll(descriptor, $0) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            self.logger.warning(
                "discovery: cannot write the cache",
                metadata: ["cache": "\(path)", "error": "\(Posix.errorText(errno))"])
            unlink(temporary)
            return
        }
    }

    private func sleep(ms: Int) { BackgroundThread.sleep(ms: ms, unless: self.stop) }
}

/// The cache file: the catalog's keys and values as etcd holds them, its revision and the services known.
enum DiscoveryCache {
    struct Contents {
        var revision: Int64
        var entries: [String: [UInt8]]
        var known: Set<String>
    }

    static func encode(_ catalog: DiscoveryCatalog) -> String {
        var text = "{\n  \"prefix\": \(JSON.quote(catalog.prefix)),\n  \"revision\": \(catalog.revision),\n"
        text += "  \"services\": [" + catalog.known.sorted().map(JSON.quote).joined(separator: ", ") + "],\n"
        text += "  \"entries\": {"
        text += catalog.entries.keys.sorted().map { key in
            "\n    \(JSON.quote(key)): \(JSON.quote(Base64.encode(catalog.entries[key]!)))"
        }.joined(separator: ",")
        text += "\n  }\n}\n"
        return text
    }

    static func decode(_ text: String, prefix: String) -> Result<Contents, DiscoveryProblem> {
        let root: YAMLNode?
        do {
            root = try YAMLComposer.compose(text)
        } catch {
            return .failure(DiscoveryProblem(key: "", message: "not JSON: \(error.message)"))
        }
        guard let root, root.mapping != nil else {
            return .failure(DiscoveryProblem(key: "", message: "not a JSON object"))
        }
        guard root.field("prefix")?.scalar?.string == prefix else {
            return .failure(DiscoveryProblem(key: "", message: "written for another prefix"))
        }
        var contents = Contents(revision: 0, entries: [:], known: [])
        contents.revision = root.field("revision")?.scalar.flatMap { Int64($0.string) } ?? 0
        for item in root.field("services")?.sequence ?? [] {
            if let name = item.scalar?.string { contents.known.insert(name) }
        }
        for (key, value) in root.field("entries")?.mapping ?? [] {
            guard let name = key.scalar?.string, let encoded = value.scalar?.string, let bytes = Base64.decode(encoded)
            else { return .failure(DiscoveryProblem(key: key.scalar?.string ?? "", message: "a bad entry")) }
            contents.entries[name] = bytes
        }
        return .success(contents)
    }
}
