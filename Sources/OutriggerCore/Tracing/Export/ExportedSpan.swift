/// One finished request as a span (SPEC §13), built when the request ends and encoded later, off the request path.
struct ExportedSpan: Sendable {
    enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
    }

    struct Event: Sendable {
        var name: String
        var timeUnixNs: UInt64
        var attributes: [(String, Value)]
    }

    /// Lower-case hex, as in `traceparent`: 32 digits for the trace, 16 for spans.
    var traceID: String
    var spanID: String
    var parentSpanID: String?
    var name: String
    var startUnixNs: UInt64
    var endUnixNs: UInt64
    var attributes: [(String, Value)]
    /// Status error (5xx, or one of Outrigger's errors) with its message; nil is status unset.
    var errorMessage: String?
    var events: [Event]
}
