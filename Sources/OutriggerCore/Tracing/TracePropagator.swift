import NIOHTTP1

/// Decides a request's trace identity from its headers (SPEC §6) and says how to rewrite them upstream.
///
/// Precedence when both formats arrive: a valid W3C `traceparent` wins, and B3 headers going upstream carry its
/// trace id, so one trace id reaches the upstream whatever it reads. Only the formats in `tracing.formats` are read
/// and written; headers of a format not configured pass through untouched like any other header.
public struct TracePropagator: Sendable {
    /// Which formats to read and write.
    public var formats: [OutriggerConfig.TraceFormat]
    /// Sampling ratio for traces Outrigger starts itself.
    public var sampleRatio: Double

    /// A propagator for the configured formats.
    public init(formats: [OutriggerConfig.TraceFormat], sampleRatio: Double) {
        self.formats = formats
        self.sampleRatio = sampleRatio
    }

    /// Reads the request's trace headers and returns the context to send upstream, with a new span id.
    public func context<G: RandomNumberGenerator>(for headers: HTTPHeaders, using generator: inout G) -> TraceContext {
        let spanID = Hex.randomID(bytes: 8, using: &generator)
        if self.formats.contains(.w3c), let value = headers.first(name: "traceparent"),
            case .success(let parent) = W3CTraceParent.parse(value)
        {
            return TraceContext(
                traceID: parent.traceID, spanID: spanID, parentSpanID: parent.parentID, sampled: parent.sampled,
                w3cFlags: parent.flags)
        }
        if self.formats.contains(.b3), let b3 = Self.readB3(headers) {
            return TraceContext(
                traceID: b3.traceID128, spanID: spanID, parentSpanID: b3.spanID,
                sampled: b3.sampled ?? self.sample(using: &generator), debug: b3.debug, b3TraceID: b3.traceID)
        }
        return TraceContext(
            traceID: Hex.randomID(bytes: 16, using: &generator), spanID: spanID, parentSpanID: nil,
            sampled: self.sample(using: &generator))
    }

    static func readB3(_ headers: HTTPHeaders) -> B3Headers? {
        if let single = headers.first(name: "b3"), let parsed = B3Headers.parseSingle(single) { return parsed }
        // Most requests carry no B3 at all: one lookup decides.
        guard headers.contains(name: "x-b3-traceid") else { return nil }
        return B3Headers.parseMulti(
            traceID: headers.first(name: "x-b3-traceid"), spanID: headers.first(name: "x-b3-spanid"),
            parentSpanID: headers.first(name: "x-b3-parentspanid"), sampled: headers.first(name: "x-b3-sampled"),
            flags: headers.first(name: "x-b3-flags"))
    }

    private func sample<G: RandomNumberGenerator>(using generator: inout G) -> Bool {
        if self.sampleRatio >= 1 { return true }
        if self.sampleRatio <= 0 { return false }
        return Double.random(in: 0..<1, using: &generator) < self.sampleRatio
    }

    /// The upstream value of a trace header this propagator owns, or nil when the header is not a trace header
    /// of a configured format (then it passes unchanged). `.some(nil)` drops it.
    func rewrite(lowercasedName name: String, context: TraceContext) -> String?? {
        switch name {
        case "traceparent" where self.formats.contains(.w3c):
            return .some(context.traceparent)
        case "b3" where self.formats.contains(.b3):
            return .some(context.b3Single)
        case "x-b3-traceid" where self.formats.contains(.b3):
            return .some(context.b3Trace)
        case "x-b3-spanid" where self.formats.contains(.b3):
            return .some(context.spanID)
        case "x-b3-parentspanid" where self.formats.contains(.b3):
            return .some(context.parentSpanID)
        case "x-b3-sampled" where self.formats.contains(.b3):
            return .some(context.debug ? nil : (context.sampled ? "1" : "0"))
        default:
            return nil
        }
    }

    /// Hands `add` the trace headers to add when the request did not carry them: `traceparent`, and B3 in the
    /// form the client used (multi when it sent `X-B3-*`, else single `b3`).
    func additions(present: Set<String>, context: TraceContext, _ add: (String, String) -> Void) {
        if self.formats.contains(.w3c) && !present.contains("traceparent") {
            add("traceparent", context.traceparent)
        }
        if self.formats.contains(.b3) {
            let multi = present.contains("x-b3-traceid") || present.contains("x-b3-spanid")
            if multi {
                if !present.contains("x-b3-traceid") { add("X-B3-TraceId", context.b3Trace) }
                if !present.contains("x-b3-spanid") { add("X-B3-SpanId", context.spanID) }
                if !present.contains("x-b3-parentspanid"), let parent = context.parentSpanID {
                    add("X-B3-ParentSpanId", parent)
                }
                if !present.contains("x-b3-sampled") && !context.debug {
                    add("X-B3-Sampled", context.sampled ? "1" : "0")
                }
            } else if !present.contains("b3") {
                add("b3", context.b3Single)
            }
        }
    }
}
