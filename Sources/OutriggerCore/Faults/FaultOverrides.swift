import Atomics
import NIOConcurrencyHelpers

/// Faults set at run time through the admin API (SPEC §11), by service name: they take the registry's place for
/// that service, survive reloads (they live beside the configuration, not in it) and end by themselves after their
/// `ttl`.
public final class FaultOverrides: Sendable {
    /// One service's run-time faults.
    public struct Entry: Sendable, Equatable {
        public var policy: FaultPolicy
        /// When they were set, and when they end (nil: until deleted), in uptime milliseconds.
        public var setAtMs: Int64
        public var expiresAtMs: Int64?
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])
    /// How many entries exist: a request reads no lock while there are none (the usual case).
    private let count = ManagedAtomic<Int>(0)

    public init() {}

    /// The run-time faults of `service` at `nowMs`, or nil (the registry's apply). An expired entry is dropped here.
    public func policy(for service: String, nowMs: Int64) -> FaultPolicy? {
        guard self.count.load(ordering: .relaxed) > 0 else { return nil }
        return self.entries.withLockedValue { entries in
            guard let entry = entries[service] else { return nil }
            if let expires = entry.expiresAtMs, nowMs >= expires { return nil }
            return entry.policy
        }
    }

    /// Sets `service`'s run-time faults, replacing any before.
    public func set(_ policy: FaultPolicy, for service: String, ttlMs: Int64?, nowMs: Int64) {
        self.entries.withLockedValue { entries in
            entries[service] = Entry(policy: policy, setAtMs: nowMs, expiresAtMs: ttlMs.map { nowMs + $0 })
            self.count.store(entries.count, ordering: .relaxed)
        }
    }

    /// Removes `service`'s run-time faults; returns whether there were any.
    @discardableResult
    public func remove(_ service: String) -> Bool {
        self.entries.withLockedValue { entries in
            let removed = entries.removeValue(forKey: service) != nil
            self.count.store(entries.count, ordering: .relaxed)
            return removed
        }
    }

    /// Drops the entries expired at `nowMs` and returns their services, for the log.
    public func expire(nowMs: Int64) -> [String] {
        self.entries.withLockedValue { entries in
            let expired = entries.filter { $0.value.expiresAtMs.map { nowMs >= $0 } ?? false }.map(\.key)
            for name in expired { entries[name] = nil }
            self.count.store(entries.count, ordering: .relaxed)
            return expired.sorted()
        }
    }

    /// Every live entry at `nowMs`.
    public func all(nowMs: Int64) -> [String: Entry] {
        self.entries.withLockedValue { entries in
            entries.filter { $0.value.expiresAtMs.map { nowMs < $0 } ?? true }
        }
    }
}
