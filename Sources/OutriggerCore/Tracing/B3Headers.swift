/// B3 propagation as read from a request (https://github.com/openzipkin/b3-propagation): the single `b3` header
/// or the `X-B3-*` multi headers.
public struct B3Headers: Sendable, Equatable {
    /// 16 or 32 lower-case hex digits.
    public var traceID: String
    /// The caller's span, 16 hex digits.
    public var spanID: String
    /// The caller's parent span, if sent.
    public var parentSpanID: String?
    /// The sampling decision, if the caller made one.
    public var sampled: Bool?
    /// The debug flag (`d` / `X-B3-Flags: 1`).
    public var debug: Bool

    /// The trace id widened to 128 bits (a 64-bit id is left-padded with zeros, as B3 prescribes).
    public var traceID128: String {
        self.traceID.count == 16 ? String(repeating: "0", count: 16) + self.traceID : self.traceID
    }

    static func isID(_ text: Substring, lengths: [Int]) -> Bool {
        lengths.contains { Hex.isLowerHex(text.lowercasedIfUpper(), count: $0) } && !Hex.isZero(text)
    }

    /// Parses `b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`; nil when invalid or a bare
    /// sampling-only value (`0`, `1`, `d`), which carries no trace to continue.
    public static func parseSingle(_ value: String) -> B3Headers? {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.count <= 4 else { return nil }
        guard Self.isID(parts[0], lengths: [16, 32]), Self.isID(parts[1], lengths: [16]) else { return nil }
        var sampled: Bool?
        var debug = false
        if parts.count >= 3 {
            switch parts[2] {
            case "1": sampled = true
            case "0": sampled = false
            case "d":
                debug = true
                sampled = true
            default: return nil
            }
        }
        var parent: String?
        if parts.count == 4 {
            guard Self.isID(parts[3], lengths: [16]) else { return nil }
            parent = parts[3].lowercased()
        }
        return B3Headers(
            traceID: parts[0].lowercased(), spanID: parts[1].lowercased(), parentSpanID: parent, sampled: sampled,
            debug: debug)
    }

    /// Parses the multi-header form; nil when the trace or span id is missing or invalid.
    public static func parseMulti(
        traceID: String?, spanID: String?, parentSpanID: String?, sampled: String?, flags: String?
    )
        -> B3Headers?
    {
        guard let traceID, let spanID, Self.isID(Substring(traceID), lengths: [16, 32]),
            Self.isID(Substring(spanID), lengths: [16])
        else { return nil }
        var parent: String?
        if let parentSpanID {
            guard Self.isID(Substring(parentSpanID), lengths: [16]) else { return nil }
            parent = parentSpanID.lowercased()
        }
        let debug = flags == "1"
        var decision: Bool?
        switch sampled?.lowercased() {
        case "1", "true": decision = true
        case "0", "false": decision = false
        default: decision = nil
        }
        if debug { decision = true }
        return B3Headers(
            traceID: traceID.lowercased(), spanID: spanID.lowercased(), parentSpanID: parent, sampled: decision,
            debug: debug)
    }
}

extension Substring {
    /// B3 ids are hex; accept upper-case digits by folding them (W3C does not).
    fileprivate func lowercasedIfUpper() -> Substring {
        self.utf8.contains(where: { $0 >= 65 && $0 <= 70 }) ? Substring(self.lowercased()) : self
    }
}
