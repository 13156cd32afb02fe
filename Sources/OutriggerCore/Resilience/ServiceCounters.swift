import Atomics

/// Per-service counters for every decision (SPEC §5, §7): lock-free, read by the admin API.
public final class ServiceCounters: Sendable {
    /// Requests routed to the service (each client request once, whatever its retries).
    public let requests = ManagedAtomic<Int>(0)
    /// Responses sent to clients by class: index 0 = 1xx ... 4 = 5xx.
    public let responsesByClass: [ManagedAtomic<Int>] = (0..<5).map { _ in ManagedAtomic(0) }
    /// Outrigger's own errors by code, indexed like `OutriggerError.Code.allCases`.
    public let errorsByCode: [ManagedAtomic<Int>] = OutriggerError.Code.allCases.map { _ in ManagedAtomic(0) }
    /// Upstream tries that failed, by code like `errorsByCode`: every failed try, retried or not.
    public let failedTriesByCode: [ManagedAtomic<Int>] = OutriggerError.Code.allCases.map { _ in ManagedAtomic(0) }
    /// Retries started.
    public let retries = ManagedAtomic<Int>(0)
    /// Retries refused because the budget was spent.
    public let budgetExhausted = ManagedAtomic<Int>(0)
    /// Requests rejected by the breaker.
    public let breakerRejections = ManagedAtomic<Int>(0)
    /// Requests rejected by `max_concurrent_requests`.
    public let overloaded = ManagedAtomic<Int>(0)
    /// Breaker transitions.
    public let transitions = ManagedAtomic<Int>(0)
    /// Endpoint ejections.
    public let ejections = ManagedAtomic<Int>(0)
    /// Durations of requests answered, from head received to response end.
    public let latency = LatencyHistogram()
    /// Answers to gRPC calls by `grpc-status` (0 to 16; others count as 2, UNKNOWN), SPEC §10.
    public let grpcStatuses: [ManagedAtomic<Int>] = (0...16).map { _ in ManagedAtomic(0) }

    /// Faults injected into tries, by kind (indexed like `FaultKind.allCases`), SPEC §11.
    public let faults: [ManagedAtomic<Int>] = FaultKind.allCases.map { _ in ManagedAtomic(0) }

    public func countFault(_ kind: FaultKind) {
        if let index = FaultKind.allCases.firstIndex(of: kind) {
            self.faults[index].wrappingIncrement(ordering: .relaxed)
        }
    }

    public func countGRPC(status: Int) {
        self.grpcStatuses[(0...16).contains(status) ? status : 2].wrappingIncrement(ordering: .relaxed)
    }

    /// Fresh counters.
    public init() {}

    /// Counts a response sent to a client.
    public func countResponse(status: Int) {
        let index = min(max(status / 100 - 1, 0), 4)
        self.responsesByClass[index].wrappingIncrement(ordering: .relaxed)
    }

    /// Counts one failed upstream try.
    public func countFailedTry(_ code: OutriggerError.Code) {
        if let index = OutriggerError.Code.allCases.firstIndex(of: code) {
            self.failedTriesByCode[index].wrappingIncrement(ordering: .relaxed)
        }
    }

    /// Counts one of Outrigger's own errors.
    public func countError(_ code: OutriggerError.Code) {
        if let index = OutriggerError.Code.allCases.firstIndex(of: code) {
            self.errorsByCode[index].wrappingIncrement(ordering: .relaxed)
        }
    }
}
