/// One service's row of `outrigger status` (SPEC §14).
struct StatusRow: Equatable, Sendable {
    var name: String
    var breaker: String
    /// Requests per second over the daemon's recent window; nil before it has two ticks.
    var requestsPerSecond: Double?
    /// 5xx answers over requests in that window; nil without requests.
    var errorShare: Double?
    var p99Ms: Double?
    var inFlight: Int
    var endpoints: Int
    var ejected: [String]
}

/// The status table's data, read from `GET /history` and `GET /services`.
struct StatusReport: Equatable, Sendable {
    var rows: [StatusRow]
    /// The window the rates are taken over, in seconds (0 before the daemon has two ticks).
    var windowSeconds: Double

    /// True when a breaker is open (forced or not): `outrigger status` exits 2.
    var anyBreakerOpen: Bool { self.rows.contains { $0.breaker == "open" } }

    /// Reads the two documents; a shape that is not the admin API's is a `StatusFailure`.
    static func parse(history: String, services: String) throws(StatusFailure) -> StatusReport {
        let historyRoot = try Self.document(history, "/history")
        let servicesRoot = try Self.document(services, "/services")
        var endpoints: [String: (inFlight: Int, total: Int, ejected: [String])] = [:]
        for service in servicesRoot.field("services")?.sequence ?? [] {
            guard let name = service.field("name")?.scalar?.string else { continue }
            let list = service.field("endpoints")?.sequence ?? []
            let ejected = list.filter { $0.field("healthy")?.scalar?.string == "false" }.compactMap {
                $0.field("address")?.scalar?.string
            }
            let inFlight = service.field("in_flight")?.scalar.flatMap { Int($0.string) } ?? 0
            endpoints[name] = (inFlight, list.count, ejected)
        }
        guard let services = historyRoot.field("services")?.sequence else {
            throw StatusFailure("GET /history answered without a services list: is it an Outrigger admin port?")
        }
        var window = 0.0
        let rows = services.compactMap { service -> StatusRow? in
            guard let name = service.field("name")?.scalar?.string else { return nil }
            let recent = service.field("recent")
            func number(_ key: String) -> Double? {
                recent.field(key)?.scalar.flatMap { Double($0.string) }
            }
            window = max(window, number("seconds") ?? 0)
            let known = endpoints[name]
            return StatusRow(
                name: name, breaker: service.field("breaker")?.scalar?.string ?? "unknown",
                requestsPerSecond: number("requests_per_second"), errorShare: number("error_share"),
                p99Ms: number("p99_ms"), inFlight: known?.inFlight ?? 0, endpoints: known?.total ?? 0,
                ejected: known?.ejected ?? [])
        }
        return StatusReport(rows: rows, windowSeconds: window)
    }

    private static func document(_ text: String, _ path: String) throws(StatusFailure) -> YAMLNode {
        guard let root = try? YAMLComposer.compose(text), root.mapping != nil else {
            throw StatusFailure("GET \(path) did not answer with a JSON object: is it an Outrigger admin port?")
        }
        return root
    }
}
