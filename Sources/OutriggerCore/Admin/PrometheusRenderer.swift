/// Renders the stats as Prometheus text exposition format 0.0.4 (SPEC §7): names prefixed `outrigger_`, one
/// `service` label per service, request duration as a histogram in seconds, breaker state as a gauge per state.
struct PrometheusRenderer {
    typealias Service = ServiceSnapshot

    /// Everything rendered, taken at one moment (so rendering is a pure function, golden-tested).
    struct Snapshot {
        var uptimeSeconds: Double
        var ready: Bool
        var openConnections: Int
        var totalConnections: Int
        var refusedConnections: Int
        var upgradedOpen = 0
        var upgradedTotal = 0
        var requests: Int
        var accessLogDropped: Int
        var reloads: Int
        var failedReloads: Int
        var services: [Service]
        /// TLS listener handshakes and failures by reason, when a TLS listener is configured.
        var tls: TLSCounts? = nil
        /// Whether the etcd source is synced, when `discovery.etcd` is configured (SPEC §12).
        var discoveryUp: Bool? = nil
        /// Spans exported and dropped, when span export is on (SPEC §13).
        var spans: (exported: Int, dropped: Int)? = nil
    }

    private var out = ""

    static func render(_ snapshot: Snapshot) -> String {
        var renderer = PrometheusRenderer()
        renderer.global(snapshot)
        renderer.perService(snapshot.services.sorted { $0.name < $1.name })
        return renderer.out
    }

    private mutating func family(_ name: String, _ type: String, _ help: String) {
        self.out += "# HELP outrigger_\(name) \(help)\n# TYPE outrigger_\(name) \(type)\n"
    }

    private mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        self.out += "outrigger_\(name)"
        if !labels.isEmpty {
            self.out += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        self.out += " \(Self.format(value))\n"
    }

    private mutating func global(_ s: Snapshot) {
        self.family("uptime_seconds", "gauge", "Seconds since the process started.")
        self.sample("uptime_seconds", [], s.uptimeSeconds)
        self.family("ready", "gauge", "1 while serving, 0 before the listener is up and while draining.")
        self.sample("ready", [], s.ready ? 1 : 0)
        self.family("connections_open", "gauge", "Inbound connections open.")
        self.sample("connections_open", [], Double(s.openConnections))
        self.family("connections_total", "counter", "Inbound connections accepted.")
        self.sample("connections_total", [], Double(s.totalConnections))
        self.family("connections_refused_total", "counter", "Inbound connections refused by max_connections.")
        self.sample("connections_refused_total", [], Double(s.refusedConnections))
        self.family("upgraded_connections_open", "gauge", "Upgraded connections (WebSocket and others) open.")
        self.sample("upgraded_connections_open", [], Double(s.upgradedOpen))
        self.family("upgraded_connections_total", "counter", "Connections upgraded after a 101 from the upstream.")
        self.sample("upgraded_connections_total", [], Double(s.upgradedTotal))
        self.family("requests_total", "counter", "Requests answered, Outrigger's own errors included.")
        self.sample("requests_total", [], Double(s.requests))
        self.family("access_log_dropped_total", "counter", "Access log lines dropped because the writer fell behind.")
        self.sample("access_log_dropped_total", [], Double(s.accessLogDropped))
        self.family("reloads_total", "counter", "Configuration reloads by result.")
        self.sample("reloads_total", [("result", "applied")], Double(s.reloads))
        self.sample("reloads_total", [("result", "refused")], Double(s.failedReloads))
        if let spans = s.spans {
            self.family("spans_exported_total", "counter", "Spans the OTLP collector accepted.")
            self.sample("spans_exported_total", [], Double(spans.exported))
            self.family(
                "spans_dropped_total", "counter", "Spans dropped: the export queue was full or the export failed.")
            self.sample("spans_dropped_total", [], Double(spans.dropped))
        }
        if let up = s.discoveryUp {
            self.family("discovery_up", "gauge", "1 while the etcd source is synced, 0 while stale or never synced.")
            self.sample("discovery_up", [], up ? 1 : 0)
        }
        if let tls = s.tls {
            self.family("tls_handshakes_total", "counter", "TLS handshakes completed on the TLS listener.")
            self.sample("tls_handshakes_total", [], Double(tls.handshakes))
            self.family("tls_handshake_failures_total", "counter", "TLS handshakes that failed, by reason.")
            for (reason, count) in tls.failures {
                self.sample("tls_handshake_failures_total", [("reason", reason)], Double(count))
            }
        }
    }

    private mutating func perService(_ services: [Service]) {
        func each(_ name: String, _ type: String, _ help: String, _ value: (Service) -> Double) {
            self.family(name, type, help)
            for service in services { self.sample(name, [("service", service.name)], value(service)) }
        }
        each("service_requests_total", "counter", "Requests routed to the service.") { Double($0.requests) }
        self.family("service_responses_total", "counter", "Responses sent to clients, by status class.")
        for service in services {
            for (index, count) in service.responsesByClass.enumerated() {
                self.sample(
                    "service_responses_total", [("service", service.name), ("class", "\(index + 1)xx")], Double(count))
            }
        }
        self.family("service_errors_total", "counter", "Outrigger's own errors, by code.")
        for service in services {
            for (code, count) in service.errors {
                self.sample("service_errors_total", [("service", service.name), ("code", code)], Double(count))
            }
        }
        self.family(
            "service_failed_tries_total", "counter", "Upstream tries that failed, retried or not, by error code.")
        for service in services {
            for (code, count) in service.failedTries {
                self.sample("service_failed_tries_total", [("service", service.name), ("code", code)], Double(count))
            }
        }
        self.family("service_faults_injected_total", "counter", "Faults injected into tries, by kind (SPEC §11).")
        for service in services {
            for (kind, count) in service.faults {
                self.sample(
                    "service_faults_injected_total", [("service", service.name), ("kind", kind)], Double(count))
            }
        }
        each("service_retries_total", "counter", "Retries started.") { Double($0.retries) }
        each("service_retry_budget_exhausted_total", "counter", "Retries refused by the retry budget.") {
            Double($0.budgetExhausted)
        }
        each("service_breaker_rejections_total", "counter", "Requests rejected by the circuit breaker.") {
            Double($0.breakerRejections)
        }
        each("service_overloaded_total", "counter", "Requests rejected by max_concurrent_requests.") {
            Double($0.overloaded)
        }
        each("service_in_flight", "gauge", "Requests in flight.") { Double($0.inFlight) }
        each("service_ejections_total", "counter", "Endpoint ejections.") { Double($0.ejections) }
        each("breaker_transitions_total", "counter", "Circuit breaker state changes.") { Double($0.breakerTransitions) }
        self.family("breaker_state", "gauge", "1 for the circuit breaker's current state, 0 for the others.")
        for service in services {
            for state in [CircuitBreaker.State.closed, .open, .halfOpen] {
                self.sample(
                    "breaker_state", [("service", service.name), ("state", state.rawValue)],
                    service.breakerState == state ? 1 : 0)
            }
        }
        self.family("request_duration_seconds", "histogram", "Time from request head to response end.")
        for service in services {
            var cumulative = 0
            for (index, bound) in LatencyHistogram.boundsMs.enumerated() {
                cumulative += service.latency.counts[index]
                self.sample(
                    "request_duration_seconds_bucket", [("service", service.name), ("le", Self.format(bound / 1000))],
                    Double(cumulative))
            }
            self.sample(
                "request_duration_seconds_bucket", [("service", service.name), ("le", "+Inf")],
                Double(service.latency.count))
            self.sample("request_duration_seconds_sum", [("service", service.name)], service.latency.sumMs / 1000)
            self.sample("request_duration_seconds_count", [("service", service.name)], Double(service.latency.count))
        }
    }

    static func escape(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Integers without a fraction; others in plain decimal.
    static func format(_ value: Double) -> String {
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// Takes the snapshot from a running daemon.
    static func snapshot(_ runtime: DaemonRuntime) -> Snapshot {
        let proxy = runtime.proxy
        let services = proxy.state().services.values.map(ServiceSnapshot.init)
        return Snapshot(
            uptimeSeconds: (runtime.uptimeSeconds * 1000).rounded() / 1000,
            ready: runtime.ready.load(ordering: .relaxed),
            openConnections: proxy.openConnections, totalConnections: proxy.totalConnections,
            refusedConnections: proxy.refusedConnections, upgradedOpen: proxy.upgradedOpen,
            upgradedTotal: proxy.upgradedTotal, requests: proxy.requests,
            accessLogDropped: runtime.accessLog?.dropped.load(ordering: .relaxed) ?? 0,
            reloads: runtime.reloads.load(ordering: .relaxed),
            failedReloads: runtime.failedReloads.load(ordering: .relaxed),
            services: services, tls: TLSCounts(runtime),
            discoveryUp: runtime.discovery.map { $0.status.state == .synced },
            spans: proxy.spanExporter.map { ($0.exported.load(ordering: .relaxed), $0.dropped) })
    }
}

/// The TLS listener's counters at one moment, as `/stats` and `/metrics` show them.
struct TLSCounts: Encodable {
    var handshakes: Int
    var failures: [(reason: String, count: Int)]

    /// Nil when no TLS listener is configured.
    init?(_ runtime: DaemonRuntime) {
        guard runtime.proxy.state().loaded.config.tls != nil else { return nil }
        let stats = runtime.proxy.tlsStats
        self.init(handshakes: stats.handshakes.load(ordering: .relaxed), failures: stats.failureCounts)
    }

    init(handshakes: Int, failures: [(reason: String, count: Int)]) {
        self.handshakes = handshakes
        self.failures = failures
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(self.handshakes, forKey: Key(stringValue: "handshakes"))
        var failures = container.nestedContainer(keyedBy: Key.self, forKey: Key(stringValue: "handshake_failures"))
        for (reason, count) in self.failures { try failures.encode(count, forKey: Key(stringValue: reason)) }
    }
}
