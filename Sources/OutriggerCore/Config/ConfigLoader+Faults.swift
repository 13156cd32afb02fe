// The `faults` block of a service policy (SPEC §11), read the same way from the registry and from a body sent to
// `PUT /faults/NAME`.
extension ConfigLoader {
    static let faultsTable = ConfigKeyTable<FaultPolicy>([
        (
            "delay",
            { value, path, faults, reader in
                let initial = FaultPolicy.Delay(percent: 0, durationMs: 0)
                if let delay = Self.readFault(
                    value, at: path, faultDelayTable, initial, needs: ["percent", "duration"], &reader)
                {
                    faults.delay = delay
                }
            }
        ),
        (
            "abort",
            { value, path, faults, reader in
                let initial = FaultPolicy.Abort(percent: 0, status: 503)
                if let abort = Self.readFault(
                    value, at: path, faultAbortTable, initial, needs: ["percent", "status"], &reader)
                {
                    faults.abort = abort
                }
            }
        ),
        (
            "reset",
            { value, path, faults, reader in
                let initial = FaultPolicy.Reset(percent: 0)
                if let reset = Self.readFault(value, at: path, faultResetTable, initial, needs: ["percent"], &reader) {
                    faults.reset = reset
                }
            }
        ),
        (
            "allow_request_headers",
            { value, path, faults, reader in
                if let v = reader.bool(value, at: path) { faults.allowRequestHeaders = v }
            }
        ),
    ])

    /// One fault kind's block: every key it `needs` present, each valid; nil (with the problems recorded) otherwise,
    /// so a half-valid fault is never injected.
    static func readFault<Kind>(
        _ value: YAMLNode, at path: String, _ table: ConfigKeyTable<Kind>, _ initial: Kind, needs: [String],
        _ reader: inout YAMLReader
    ) -> Kind? {
        var kind = initial
        let errorsBefore = reader.errors.count
        guard let pairs = table.read(value, at: path, prefix: path, into: &kind, reader: &reader) else { return nil }
        let missing = needs.filter { key in !pairs.contains { $0.key == key } }
        if !missing.isEmpty { reader.error(value, "\(path) needs \(missing.joined(separator: " and "))") }
        return reader.errors.count == errorsBefore ? kind : nil
    }

    static let faultDelayTable = ConfigKeyTable<FaultPolicy.Delay>([
        (
            "percent",
            { value, path, delay, reader in
                if let v = reader.double(value, at: path, range: 0...100) { delay.percent = v }
            }
        ),
        (
            "duration",
            { value, path, delay, reader in
                if let v = reader.duration(value, at: path) { delay.durationMs = v }
            }
        ),
    ])

    static let faultAbortTable = ConfigKeyTable<FaultPolicy.Abort>([
        (
            "percent",
            { value, path, abort, reader in
                if let v = reader.double(value, at: path, range: 0...100) { abort.percent = v }
            }
        ),
        (
            "status",
            { value, path, abort, reader in
                // A 1xx is never a final answer (a client would wait for the real one): 200 to 599, as Envoy.
                if let v = reader.int(value, at: path, range: 200...599) { abort.status = v }
            }
        ),
    ])

    static let faultResetTable = ConfigKeyTable<FaultPolicy.Reset>([
        (
            "percent",
            { value, path, reset, reader in
                if let v = reader.double(value, at: path, range: 0...100) { reset.percent = v }
            }
        )
    ])
}
