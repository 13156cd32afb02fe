/// Endpoint choice and ejection for one service (SPEC §3), as a pure state machine held by the service.
///
/// An endpoint that fails to connect 5 times in a row is ejected for 30 s, doubling on each repeat ejection up to
/// 5 min, unless that would leave no endpoint in rotation. Choice is round-robin, or least-request by the power of
/// two choices, over the endpoints not ejected.
public struct EndpointSet: Sendable {
    /// Health and load of one endpoint.
    public struct Health: Sendable, Equatable {
        /// Connect failures in a row.
        public var consecutiveConnectFailures = 0
        /// Out of rotation until then (owner's clock, ms).
        public var ejectedUntilMs: Int64?
        /// Ejections so far without a success in between (drives the doubling).
        public var ejections = 0
        /// Requests in flight to it.
        public var inFlight = 0
    }

    /// Connect failures in a row that eject an endpoint.
    public static let ejectAfter = 5
    /// First ejection length.
    public static let baseEjectionMs: Int64 = 30_000
    /// Longest ejection.
    public static let maxEjectionMs: Int64 = 300_000

    /// The endpoints, in registry order.
    public let endpoints: [Endpoint]
    /// Their health, same order.
    public private(set) var health: [Health]
    private let balance: Balance
    private var cursor = 0

    /// Endpoints of a service.
    public init(endpoints: [Endpoint], balance: Balance) {
        self.endpoints = endpoints
        self.balance = balance
        self.health = Array(repeating: Health(), count: endpoints.count)
    }

    private func isEjected(_ index: Int, nowMs: Int64) -> Bool {
        guard let until = self.health[index].ejectedUntilMs else { return false }
        return until > nowMs
    }

    /// Chooses an endpoint, avoiding `avoid` (the one a retry just failed on) when another is usable, and counts it
    /// in flight. Nil only when the service has no endpoint at all.
    public mutating func pick<G: RandomNumberGenerator>(nowMs: Int64, avoid: Int? = nil, using generator: inout G)
        -> Int?
    {
        guard !self.endpoints.isEmpty else { return nil }
        var candidates = self.endpoints.indices.filter { !self.isEjected($0, nowMs: nowMs) && $0 != avoid }
        if candidates.isEmpty { candidates = self.endpoints.indices.filter { !self.isEjected($0, nowMs: nowMs) } }
        // Every endpoint ejected (time passed since the last check): all are usable rather than none.
        if candidates.isEmpty { candidates = Array(self.endpoints.indices) }
        let chosen: Int
        switch self.balance {
        case .roundRobin:
            chosen = candidates[self.cursor % candidates.count]
            // A retry steering around a failed endpoint does not move the rotation of first tries.
            if avoid == nil { self.cursor &+= 1 }
        case .leastRequest:
            if candidates.count == 1 {
                chosen = candidates[0]
            } else {
                let a = candidates[Int.random(in: 0..<candidates.count, using: &generator)]
                var b = candidates[Int.random(in: 0..<(candidates.count - 1), using: &generator)]
                if b >= a { b = candidates[(candidates.firstIndex(of: b)! + 1) % candidates.count] }
                chosen = self.health[b].inFlight < self.health[a].inFlight ? b : a
            }
        }
        self.health[chosen].inFlight += 1
        return chosen
    }

    /// The request to `index` ended. `connectFailed` when it never connected. Returns the ejection length when this
    /// result ejected the endpoint.
    public mutating func finish(_ index: Int, connectFailed: Bool, nowMs: Int64) -> Int64? {
        self.health[index].inFlight = max(0, self.health[index].inFlight - 1)
        guard connectFailed else {
            self.health[index].consecutiveConnectFailures = 0
            if self.health[index].ejectedUntilMs.map({ $0 <= nowMs }) ?? true {
                self.health[index].ejections = 0
                self.health[index].ejectedUntilMs = nil
            }
            return nil
        }
        self.health[index].consecutiveConnectFailures += 1
        guard self.health[index].consecutiveConnectFailures >= Self.ejectAfter, !self.isEjected(index, nowMs: nowMs)
        else { return nil }
        let othersInRotation = self.endpoints.indices.contains { $0 != index && !self.isEjected($0, nowMs: nowMs) }
        guard othersInRotation else { return nil }
        let length = min(Self.maxEjectionMs, Self.baseEjectionMs << Int64(min(self.health[index].ejections, 10)))
        self.health[index].ejections += 1
        self.health[index].ejectedUntilMs = nowMs + length
        self.health[index].consecutiveConnectFailures = 0
        return length
    }

    /// Keeps health of endpoints that still exist after a reload.
    public mutating func adopt(from old: EndpointSet) {
        for (index, endpoint) in self.endpoints.enumerated() {
            if let previous = old.endpoints.firstIndex(of: endpoint) {
                var health = old.health[previous]
                health.inFlight = 0
                self.health[index] = health
            }
        }
    }
}
