/// `GET /history` (SPEC §14): each service's last minutes, one value per tick in columns (oldest first, each
/// column ending at the latest tick), and its rates over the last few ticks, which `outrigger status` and the
/// admin page show. Written compact: its columns are most of the admin API's bytes.
struct HistoryView: Encodable {
    struct Recent: Encodable {
        var seconds: Double
        var requestsPerSecond: Double
        var errorShare: Double?
        var p99Ms: Double?

        enum CodingKeys: String, CodingKey {
            case seconds
            case requestsPerSecond = "requests_per_second"
            case errorShare = "error_share"
            case p99Ms = "p99_ms"
        }
    }

    struct ServiceHistory: Encodable {
        var name: String
        var breaker: String
        var recent: Recent?
        /// Requests ended per tick.
        var requests: [Int]
        /// 5xx answers per tick (the upstream's and Outrigger's own).
        var errors: [Int]
        /// The tick's p99 in ms, null for a tick without requests.
        var p99Ms: [Double?]

        enum CodingKeys: String, CodingKey {
            case name, breaker, recent, requests, errors
            case p99Ms = "p99_ms"
        }
    }

    var intervalSeconds: Int
    var capacity: Int
    /// Wall-clock times of the ticks kept, in milliseconds since the epoch, oldest first.
    var timesMs: [Int64]
    var services: [ServiceHistory]

    enum CodingKeys: String, CodingKey {
        case capacity, services
        case intervalSeconds = "interval_seconds"
        case timesMs = "times_ms"
    }

    /// With `sinceMs`, only the ticks after it (a page that has the earlier ones asks for the rest).
    init(_ runtime: DaemonRuntime, sinceMs: Int64? = nil) {
        let history = runtime.history.current
        let state = runtime.proxy.state()
        self.intervalSeconds = HistoryRecorder.intervalSeconds
        self.capacity = history.capacity
        let newer = sinceMs.map { since in history.tickTimesMs.count { $0 > since } } ?? history.tickTimesMs.count
        self.timesMs = Array(history.tickTimesMs.suffix(newer))
        self.services = state.loaded.registry.order.compactMap { name in
            guard let service = state.services[name] else { return nil }
            let samples = history.samples(of: name).suffix(newer)
            let recent = history.recent(of: name).map {
                Recent(
                    seconds: $0.seconds, requestsPerSecond: ($0.requestsPerSecond * 100).rounded() / 100,
                    errorShare: $0.errorShare.map { ($0 * 10000).rounded() / 10000 }, p99Ms: $0.p99Ms)
            }
            return ServiceHistory(
                name: name, breaker: service.breakerNow().effectiveState.rawValue, recent: recent,
                requests: samples.map(\.requests), errors: samples.map(\.errors), p99Ms: samples.map(\.p99Ms))
        }
    }
}
