@testable import OutriggerCore

/// One fuzz input: arbitrary bytes as `outrigger.yaml` and as `registry.yaml`. The loader must report problems
/// as `FILE:LINE:COL` errors, never crash or hang.
public func fuzzConfigLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var reader = YAMLReader(file: "outrigger.yaml")
    let parsed = ConfigLoader.parseConfig(text: text, reader: &reader, folder: "/nonexistent", environmentToken: nil)
    for error in reader.errors { precondition(!error.description.isEmpty) }
    var registryReader = YAMLReader(file: "registry.yaml")
    let registry = ConfigLoader.parseRegistry(
        text: text, reader: &registryReader, defaults: parsed.config.defaults, folder: "/nonexistent")
    precondition(registry.order.count == registry.services.count)
    return 0
}
