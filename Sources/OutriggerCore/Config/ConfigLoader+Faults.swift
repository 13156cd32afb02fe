// The `faults` block of a service policy (SPEC §11), read the same way from the registry and from a body sent to
// `PUT /faults/NAME`.
extension ConfigLoader {
    static let faultsTable = ConfigKeyTable<FaultPolicy>([
        (
            "delay",
            { value, path, faults, reader in
                var delay = FaultPolicy.Delay(percent: -1, durationMs: -1)
                guard let pairs = faultDelayTable.read(value, at: path, prefix: path, into: &delay, reader: &reader)
                else { return }
                let missing = ["percent", "duration"].filter { key in !pairs.contains { $0.key == key } }
                if !missing.isEmpty {
                    reader.error(value, "\(path) needs \(missing.joined(separator: " and "))")
                } else if delay.percent >= 0 && delay.durationMs >= 0 {
                    faults.delay = delay
                }
            }
        ),
        (
            "abort",
            { value, path, faults, reader in
                var abort = FaultPolicy.Abort(percent: -1, status: 0)
                guard let pairs = faultAbortTable.read(value, at: path, prefix: path, into: &abort, reader: &reader)
                else { return }
                let missing = ["percent", "status"].filter { key in !pairs.contains { $0.key == key } }
                if !missing.isEmpty {
                    reader.error(value, "\(path) needs \(missing.joined(separator: " and "))")
                } else if abort.percent >= 0 && abort.status != 0 {
                    faults.abort = abort
                }
            }
        ),
        (
            "reset",
            { value, path, faults, reader in
                var reset = FaultPolicy.Reset(percent: -1)
                guard let pairs = faultResetTable.read(value, at: path, prefix: path, into: &reset, reader: &reader)
                else { return }
                if !pairs.contains(where: { $0.key == "percent" }) {
                    reader.error(value, "\(path) needs percent")
                } else if reset.percent >= 0 {
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
