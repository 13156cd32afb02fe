import Logging
import NIOHTTP1

// `GET /faults`, `GET|PUT|DELETE /faults/NAME` (SPEC §11): run-time faults beside the registry's.
extension AdminRouter {
    func faults(_ rest: [String], method: HTTPMethod, body: String) -> AdminResponse {
        let state = self.runtime.proxy.state()
        let overrides = self.runtime.proxy.faults
        let now = SystemMillisecondClock().nowMs()
        if rest.isEmpty {
            return self.only(.GET, method) {
                var views: [String: FaultsView] = [:]
                for name in state.loaded.registry.order {
                    guard let service = state.services[name] else { continue }
                    views[name] = FaultsView(service: service, overrides: overrides, nowMs: now)
                }
                return AdminResponse(status: .ok, body: AdminJSON.encode(["faults": views]))
            }
        }
        guard rest.count == 1 else {
            return AdminResponse(status: .notFound, body: AdminJSON.error("not_found", "no admin endpoint there"))
        }
        // The methods are checked before the name: they do not depend on the registry.
        return self.only([.GET, .PUT, .DELETE], method) {
            guard let service = state.services[rest[0]] else { return Self.unknownService(rest[0]) }
            let view = { AdminJSON.encode(FaultsView(service: service, overrides: overrides, nowMs: now)) }
            switch method {
            case .PUT:
                switch Self.parseFaults(body) {
                case .failure(let problems):
                    let list = problems.errors.map { JSON.quote($0.description) }.joined(separator: ",")
                    return AdminResponse(
                        status: .badRequest,
                        body:
                            "{\"error\":\"bad_request\",\"message\":\"the faults were not changed\",\"errors\":[\(list)]}\n"
                    )
                case .success(let request):
                    let (policy, ttlMs) = (request.policy, request.ttlMs)
                    overrides.set(policy, for: service.name, ttlMs: ttlMs, nowMs: now)
                    self.runtime.logger.info(
                        "faults set",
                        metadata: [
                            "source": "admin", "service": "\(service.name)", "fault": "\(Self.describe(policy))",
                            "ttl": "\(ttlMs.map { "\($0)ms" } ?? "none")",
                        ])
                    return AdminResponse(status: .ok, body: view())
                }
            case .DELETE:
                let removed = overrides.remove(service.name)
                if removed {
                    self.runtime.logger.info(
                        "faults ended",
                        metadata: ["source": "admin", "service": "\(service.name)", "reason": "deleted"])
                }
                return AdminResponse(status: .ok, body: view())
            default:  // GET or HEAD
                return AdminResponse(status: .ok, body: view())
            }
        }
    }

    /// What a `PUT /faults/NAME` body asks for.
    struct FaultsRequest: Equatable {
        var policy = FaultPolicy.none
        var ttlMs: Int64?
    }

    /// The body's keys: the registry's `faults` keys, applied by the same table (same rules, same messages), and
    /// `ttl`.
    static let faultsBodyTable = ConfigKeyTable<FaultsRequest>(
        ConfigLoader.faultsTable.entries.map { entry in
            (entry.key, { @Sendable value, path, request, reader in entry.set(value, path, &request.policy, &reader) })
        } + [
            (
                "ttl",
                { @Sendable value, path, request, reader in
                    guard let ms = reader.duration(value, at: path) else { return }
                    if ms == 0 {
                        reader.error(value, "\(path) must be more than 0 (leave it out for no end)")
                    } else {
                        request.ttlMs = ms
                    }
                }
            )
        ])

    /// Reads a `PUT /faults/NAME` body (JSON, which YAML reads too). Every problem is returned, each with its line
    /// and column in the body.
    static func parseFaults(_ body: String) -> Result<FaultsRequest, ConfigErrors> {
        var reader = YAMLReader(file: "body")
        reader.jsonTypes = true
        if body.trimmingWhitespace.isEmpty {
            reader.fileError("expected a JSON object with delay, abort, reset, allow_request_headers or ttl")
            return .failure(ConfigErrors(reader.errors))
        }
        var request = FaultsRequest()
        if let root = reader.compose(body) {
            if root.mapping == nil {
                reader.error(
                    root, "the body must be a JSON object with delay, abort, reset, allow_request_headers or ttl")
            } else {
                Self.faultsBodyTable.read(root, at: "the body", prefix: "", into: &request, reader: &reader)
            }
        }
        return reader.errors.isEmpty ? .success(request) : .failure(ConfigErrors(reader.errors))
    }

    /// A one-line account of a fault policy for the log.
    static func describe(_ policy: FaultPolicy) -> String {
        var parts: [String] = []
        if let delay = policy.delay { parts.append("delay \(delay.percent)% \(delay.durationMs)ms") }
        if let abort = policy.abort { parts.append("abort \(abort.percent)% \(abort.status)") }
        if let reset = policy.reset { parts.append("reset \(reset.percent)%") }
        if policy.allowRequestHeaders { parts.append("request headers allowed") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// One service's faults as the admin API shows them: the active ones and where they come from.
struct FaultsView: Encodable {
    struct Delay: Encodable {
        var percent: Double
        var duration: String
    }
    struct Abort: Encodable {
        var percent: Double
        var status: Int
    }
    struct Reset: Encodable {
        var percent: Double
    }

    /// `runtime` (set through this API), `registry`, or `none`.
    var source: String
    var delay: Delay?
    var abort: Abort?
    var reset: Reset?
    var allowRequestHeaders: Bool
    /// Milliseconds until run-time faults end by themselves (nil: no ttl, or not run-time).
    var expiresInMs: Int64?

    enum CodingKeys: String, CodingKey {
        case source, delay, abort, reset
        case allowRequestHeaders = "allow_request_headers"
        case expiresInMs = "expires_in_ms"
    }

    init(service: ServiceRuntime, overrides: FaultOverrides, nowMs: Int64) {
        let entry = overrides.all(nowMs: nowMs)[service.name]
        let policy = entry?.policy ?? service.config.policy.faults
        self.source = entry != nil ? "runtime" : policy.isInactive ? "none" : "registry"
        self.delay = policy.delay.map { Delay(percent: $0.percent, duration: "\($0.durationMs)ms") }
        self.abort = policy.abort.map { Abort(percent: $0.percent, status: $0.status) }
        self.reset = policy.reset.map { Reset(percent: $0.percent) }
        self.allowRequestHeaders = policy.allowRequestHeaders
        self.expiresInMs = entry?.expiresAtMs.map { max($0 - nowMs, 0) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.source, forKey: .source)
        try container.encode(self.delay, forKey: .delay)
        try container.encode(self.abort, forKey: .abort)
        try container.encode(self.reset, forKey: .reset)
        try container.encode(self.allowRequestHeaders, forKey: .allowRequestHeaders)
        try container.encode(self.expiresInMs, forKey: .expiresInMs)
    }
}
