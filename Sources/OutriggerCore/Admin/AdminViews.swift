import Glibc

// The JSON documents of the admin API (SPEC §7). Field names are snake_case, as users `curl | jq` them.

struct LatencyView: Encodable {
    var count: Int
    var p50: Double
    var p90: Double
    var p99: Double
    var max: Double

    init(_ snapshot: LatencyHistogram.Snapshot) {
        func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
        self.count = snapshot.count
        self.p50 = round(snapshot.percentile(0.5))
        self.p90 = round(snapshot.percentile(0.9))
        self.p99 = round(snapshot.percentile(0.99))
        self.max = round(snapshot.maxMs)
    }
}

struct ServiceStatsView: Encodable {
    var requests: Int
    var responses: [String: Int]
    var errors: [String: Int]
    var failedTries: [String: Int]
    var retries: Int
    var retryBudgetExhausted: Int
    var breakerRejections: Int
    var overloaded: Int
    var inFlight: Int
    var ejections: Int
    var breakerState: String
    var breakerTransitions: Int
    var latencyMs: LatencyView
    /// gRPC answers by `grpc-status`, when the service had any.
    var grpcStatus: [String: Int]?
    /// Faults injected into tries, by kind (SPEC §11).
    var faultsInjected: [String: Int]

    enum CodingKeys: String, CodingKey {
        case requests, responses, errors, retries, overloaded, ejections
        case faultsInjected = "faults_injected"
        case grpcStatus = "grpc_status"
        case retryBudgetExhausted = "retry_budget_exhausted"
        case failedTries = "failed_tries"
        case breakerRejections = "breaker_rejections"
        case inFlight = "in_flight"
        case breakerState = "breaker_state"
        case breakerTransitions = "breaker_transitions"
        case latencyMs = "latency_ms"
    }

    init(_ snapshot: ServiceSnapshot) {
        self.requests = snapshot.requests
        var responses: [String: Int] = [:]
        for (index, count) in snapshot.responsesByClass.enumerated() { responses["\(index + 1)xx"] = count }
        self.responses = responses
        self.errors = Dictionary(snapshot.errors.map { ($0.code, $0.count) }, uniquingKeysWith: +)
        self.failedTries = Dictionary(snapshot.failedTries.map { ($0.code, $0.count) }, uniquingKeysWith: +)
        self.retries = snapshot.retries
        self.retryBudgetExhausted = snapshot.budgetExhausted
        self.breakerRejections = snapshot.breakerRejections
        self.overloaded = snapshot.overloaded
        self.inFlight = snapshot.inFlight
        self.ejections = snapshot.ejections
        self.breakerState = snapshot.breakerState.rawValue
        self.breakerTransitions = snapshot.breakerTransitions
        if !snapshot.grpcStatuses.isEmpty {
            self.grpcStatus = Dictionary(
                uniqueKeysWithValues: snapshot.grpcStatuses.map { (String($0.status), $0.count) })
        }
        self.latencyMs = LatencyView(snapshot.latency)
        self.faultsInjected = Dictionary(snapshot.faults.map { ($0.kind, $0.count) }, uniquingKeysWith: +)
    }
}

struct StatsView: Encodable {
    struct Connections: Encodable {
        /// Upgraded connections (SPEC §10): tunnels open now, and since start.
        struct Upgraded: Encodable {
            var open: Int
            var total: Int
        }

        var open: Int
        var total: Int
        var refused: Int
        var upgraded: Upgraded
    }

    struct AccessLogView: Encodable {
        var written: Int
        var dropped: Int
        var failed: Int
    }

    var uptimeSeconds: Double
    var ready: Bool
    var connections: Connections
    var requests: Int
    var reloads: Int
    var failedReloads: Int
    var accessLog: AccessLogView?
    var services: [String: ServiceStatsView]
    var tls: TLSCounts?
    /// The etcd source (SPEC §12), when configured.
    var discovery: DiscoveryView?
    /// Span export (SPEC §13), when on.
    var spanExport: SpanExportView?

    enum CodingKeys: String, CodingKey {
        case ready, connections, requests, reloads, services, tls, discovery
        case spanExport = "span_export"
        case uptimeSeconds = "uptime_seconds"
        case failedReloads = "failed_reloads"
        case accessLog = "access_log"
    }

    init(_ runtime: DaemonRuntime) {
        let proxy = runtime.proxy
        self.uptimeSeconds = (runtime.uptimeSeconds * 1000).rounded() / 1000
        self.ready = runtime.ready.load(ordering: .relaxed)
        self.connections = Connections(
            open: proxy.openConnections, total: proxy.totalConnections, refused: proxy.refusedConnections,
            upgraded: .init(open: proxy.upgradedOpen, total: proxy.upgradedTotal))
        self.requests = proxy.requests
        self.reloads = runtime.reloads.load(ordering: .relaxed)
        self.failedReloads = runtime.failedReloads.load(ordering: .relaxed)
        self.accessLog = runtime.accessLog.map {
            AccessLogView(
                written: $0.written.load(ordering: .relaxed), dropped: $0.dropped.load(ordering: .relaxed),
                failed: $0.failed.load(ordering: .relaxed))
        }
        self.services = proxy.state().services.mapValues { ServiceStatsView(ServiceSnapshot($0)) }
        self.tls = TLSCounts(runtime)
        self.discovery = DiscoveryView(runtime)
        self.spanExport = proxy.spanExporter.map(SpanExportView.init)
    }
}

struct BreakerView: Encodable {
    struct Window: Encodable {
        var requests: Int
        var failures: Int
        var failureRate: Double
        var windowSeconds: Double

        enum CodingKeys: String, CodingKey {
            case requests, failures
            case failureRate = "failure_rate"
            case windowSeconds = "window_seconds"
        }
    }

    struct FailureView: Encodable {
        var time: String
        var endpoint: String?
        var code: String
    }

    struct Config: Encodable {
        var consecutiveFailures: Int
        var failureRate: Double
        var minimumRequests: Int
        var window: String
        var openFor: String
        var halfOpenRequests: Int

        enum CodingKeys: String, CodingKey {
            case window
            case consecutiveFailures = "consecutive_failures"
            case failureRate = "failure_rate"
            case minimumRequests = "minimum_requests"
            case openFor = "open_for"
            case halfOpenRequests = "half_open_requests"
        }
    }

    var service: String
    var state: String
    var forced: Bool
    var since: String
    var retryAt: String?
    var consecutiveFailures: Int
    var window: Window
    var trips: Int
    var generation: UInt64
    var probesInFlight: Int
    var config: Config
    var lastFailures: [FailureView]

    enum CodingKeys: String, CodingKey {
        case service, state, forced, since, window, trips, generation, config
        case retryAt = "retry_at"
        case consecutiveFailures = "consecutive_failures"
        case probesInFlight = "probes_in_flight"
        case lastFailures = "last_failures"
    }

    init(_ service: ServiceRuntime, runtime: DaemonRuntime) {
        let breaker = service.breakerNow()
        let now = service.clock.nowMs()
        func time(_ ms: Int64) -> String { AdminJSON.time(runtime.wallTime(monotonicMs: ms, clock: service.clock)) }
        self.service = service.name
        self.state = breaker.effectiveState.rawValue
        self.forced = breaker.forced != nil
        self.since = time(breaker.sinceMs)
        self.retryAt = breaker.forced == nil && breaker.state == .open ? breaker.openUntilMs.map(time) : nil
        self.consecutiveFailures = breaker.consecutiveFailures
        let totals = breaker.window.totals(nowMs: now)
        let rate = totals.requests == 0 ? 0 : Double(totals.failures) / Double(totals.requests)
        self.window = Window(
            requests: totals.requests, failures: totals.failures, failureRate: (rate * 1000).rounded() / 1000,
            windowSeconds: Double(breaker.policy.windowMs) / 1000)
        self.trips = breaker.trips
        self.generation = breaker.generation
        self.probesInFlight = breaker.probesInFlight
        let policy = breaker.policy
        self.config = Config(
            consecutiveFailures: policy.consecutiveFailures, failureRate: policy.failureRate,
            minimumRequests: policy.minimumRequests, window: ConfigDuration.format(milliseconds: policy.windowMs),
            openFor: ConfigDuration.format(milliseconds: policy.openForMs), halfOpenRequests: policy.halfOpenRequests)
        self.lastFailures = breaker.recentFailures.reversed().map {
            FailureView(time: time($0.atMs), endpoint: $0.endpoint, code: $0.kind.description)
        }
    }
}

struct ServicesView: Encodable {
    struct EndpointView: Encodable {
        var address: String
        var healthy: Bool
        var ejectedUntil: String?
        var ejections: Int
        var consecutiveConnectFailures: Int
        var inFlight: Int

        enum CodingKeys: String, CodingKey {
            case address, healthy, ejections
            case ejectedUntil = "ejected_until"
            case consecutiveConnectFailures = "consecutive_connect_failures"
            case inFlight = "in_flight"
        }
    }

    struct ServiceView: Encodable {
        var name: String
        /// `file` (the registry) or `etcd` (SPEC §12).
        var source: String
        var balance: String
        var inFlight: Int
        var maxConcurrentRequests: Int
        var breaker: String
        var endpoints: [EndpointView]

        enum CodingKeys: String, CodingKey {
            case name, source, balance, breaker, endpoints
            case inFlight = "in_flight"
            case maxConcurrentRequests = "max_concurrent_requests"
        }
    }

    var services: [ServiceView]
    var discovery: DiscoveryView?

    init(_ runtime: DaemonRuntime) {
        let state = runtime.proxy.state()
        self.discovery = DiscoveryView(runtime)
        self.services = state.loaded.registry.order.compactMap { name in
            guard let service = state.services[name] else { return nil }
            let now = service.clock.nowMs()
            let breaker = service.breakerNow().effectiveState
            let set = service.state.withLockedValue { $0.endpoints }
            let endpoints = zip(set.endpoints, set.health).map { endpoint, health in
                let ejected = health.ejectedUntilMs.map { $0 > now } ?? false
                return EndpointView(
                    address: endpoint.original, healthy: !ejected,
                    ejectedUntil: ejected
                        ? health.ejectedUntilMs.map {
                            AdminJSON.time(runtime.wallTime(monotonicMs: $0, clock: service.clock))
                        } : nil,
                    ejections: health.ejections, consecutiveConnectFailures: health.consecutiveConnectFailures,
                    inFlight: health.inFlight)
            }
            return ServiceView(
                name: name, source: state.loaded.etcdServices.contains(name) ? "etcd" : "file",
                balance: service.config.policy.balance.rawValue,
                inFlight: service.inFlight.load(ordering: .relaxed),
                maxConcurrentRequests: service.config.policy.maxConcurrentRequests, breaker: breaker.rawValue,
                endpoints: endpoints)
        }
    }
}

/// Shared JSON helpers for the admin API.
enum AdminJSON {
    static func encode<T: Encodable>(_ value: T, compact: Bool = false) -> String {
        guard let text = try? JSONWriter.encode(value, compact: compact) else { return "{}\n" }
        return text + "\n"
    }

    static func time(_ time: timespec) -> String { AccessRecord.iso8601(time) }

    static func error(_ code: String, _ message: String) -> String {
        "{\"error\":\(JSON.quote(code)),\"message\":\(JSON.quote(message))}\n"
    }
}

/// Span export's counters (SPEC §13): spans the collector took, spans dropped (queue full or export failed).
struct SpanExportView: Encodable {
    var endpoint: String
    var `protocol`: String
    var exported: Int
    var dropped: Int
    var failed: Int
    var queued: Int
    var requests: Int

    init(_ exporter: SpanExporter) {
        self.endpoint = exporter.settings.endpoint
        self.protocol = exporter.settings.wireProtocol.rawValue
        self.exported = exporter.exported.load(ordering: .relaxed)
        self.failed = exporter.failed.load(ordering: .relaxed)
        self.dropped = exporter.dropped
        self.queued = exporter.queue.count
        self.requests = exporter.requests.load(ordering: .relaxed)
    }
}
