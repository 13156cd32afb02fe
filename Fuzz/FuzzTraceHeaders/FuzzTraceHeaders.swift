import NIOHTTP1

@testable import OutriggerCore

/// One fuzz input: arbitrary bytes as `traceparent`, `b3`, `X-B3-*` and `x-request-id` values. Parsers must
/// accept or reject without crashing, and what Outrigger sends upstream must itself parse.
public func fuzzTraceHeaders(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if case .success(let parsed) = W3CTraceParent.parse(text) {
        precondition(parsed.traceID.utf8.count == 32 && parsed.parentID.utf8.count == 16)
    }
    _ = B3Headers.parseSingle(text)
    let parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    func part(_ index: Int) -> String? { index < parts.count ? parts[index] : nil }
    _ = B3Headers.parseMulti(
        traceID: part(0), spanID: part(1), parentSpanID: part(2), sampled: part(3), flags: part(4))
    _ = RequestID.isSane(text)

    var headers = HTTPHeaders()
    for (index, name) in ["traceparent", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled"].enumerated() {
        if let value = part(index) { headers.add(name: name, value: value) }
    }
    var random = SystemRandomNumberGenerator()
    let propagator = TracePropagator(formats: [.w3c, .b3], sampleRatio: 0.5)
    let context = propagator.context(for: headers, using: &random)
    // What goes upstream is always a valid traceparent with the same trace id.
    guard case .success(let sent) = W3CTraceParent.parse(context.traceparent) else {
        preconditionFailure("Outrigger would send an invalid traceparent: \(context.traceparent)")
    }
    precondition(sent.traceID == context.traceID)
    return 0
}
