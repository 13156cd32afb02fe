/// One service's numbers read at one moment: the single place the admin API reads counters from, for both the
/// JSON stats and the Prometheus text.
struct ServiceSnapshot {
    var name: String
    var requests: Int
    /// Responses by class, index 0 = 1xx ... 4 = 5xx.
    var responsesByClass: [Int]
    /// Outrigger's own errors, every code in `OutriggerError.Code` order.
    var errors: [(code: String, count: Int)]
    /// Failed upstream tries (retried or not), the upstream failure codes only.
    var failedTries: [(code: String, count: Int)] = []
    var retries: Int
    var budgetExhausted: Int
    var breakerRejections: Int
    var overloaded: Int
    var inFlight: Int
    var ejections: Int
    var breakerState: CircuitBreaker.State
    var breakerTransitions: Int
    var latency: LatencyHistogram.Snapshot
    /// gRPC answers by status, only the statuses seen.
    var grpcStatuses: [(status: Int, count: Int)] = []
    /// Faults injected into tries, every kind (SPEC §11).
    var faults: [(kind: String, count: Int)] = []
}

extension ServiceSnapshot {
    /// Reads a running service.
    init(_ service: ServiceRuntime) {
        let counters = service.counters
        self.init(
            name: service.name, requests: counters.requests.load(ordering: .relaxed),
            responsesByClass: counters.responsesByClass.map { $0.load(ordering: .relaxed) },
            errors: OutriggerError.Code.allCases.enumerated().map {
                ($0.element.rawValue, counters.errorsByCode[$0.offset].load(ordering: .relaxed))
            },
            failedTries: OutriggerError.Code.allCases.enumerated().filter { $0.element.isUpstreamFailure }.map {
                ($0.element.rawValue, counters.failedTriesByCode[$0.offset].load(ordering: .relaxed))
            },
            retries: counters.retries.load(ordering: .relaxed),
            budgetExhausted: counters.budgetExhausted.load(ordering: .relaxed),
            breakerRejections: counters.breakerRejections.load(ordering: .relaxed),
            overloaded: counters.overloaded.load(ordering: .relaxed),
            inFlight: service.inFlight.load(ordering: .relaxed),
            ejections: counters.ejections.load(ordering: .relaxed),
            breakerState: service.breakerNow().effectiveState,
            breakerTransitions: counters.transitions.load(ordering: .relaxed), latency: counters.latency.snapshot(),
            grpcStatuses: counters.grpcStatuses.enumerated().compactMap { index, counter in
                let count = counter.load(ordering: .relaxed)
                return count > 0 ? (index, count) : nil
            },
            faults: FaultKind.allCases.enumerated().map {
                ($0.element.rawValue, counters.faults[$0.offset].load(ordering: .relaxed))
            })
    }
}
