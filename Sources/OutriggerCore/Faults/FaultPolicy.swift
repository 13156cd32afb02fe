/// Faults injected into a service's tries (SPEC §11), from the registry or set at run time.
public struct FaultPolicy: Sendable, Equatable {
    /// Hold a share of the tries this long before sending them.
    public struct Delay: Sendable, Equatable {
        public var percent: Double
        public var durationMs: Int64
    }

    /// Answer a share of the tries with this status instead of sending them.
    public struct Abort: Sendable, Equatable {
        public var percent: Double
        public var status: Int
    }

    /// Fail a share of the tries as a reset connection.
    public struct Reset: Sendable, Equatable {
        public var percent: Double
    }

    public var delay: Delay?
    public var abort: Abort?
    public var reset: Reset?
    /// Whether a request may ask for a fault with `x-outrigger-fault-delay-ms` and `x-outrigger-fault-abort`.
    public var allowRequestHeaders = false

    /// No fault of any kind, and none allowed on request.
    public static let none = FaultPolicy()

    public init() {}

    /// Whether no try can be faulted.
    public var isInactive: Bool {
        self.delay == nil && self.abort == nil && self.reset == nil && !self.allowRequestHeaders
    }
}

/// The kind of fault injected into a try, as counted and reported in `x-outrigger-fault`.
public enum FaultKind: String, Sendable, CaseIterable {
    case delay
    case abort
    case reset
}
