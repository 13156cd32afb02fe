/// The trace identity of one request as Outrigger propagates it (SPEC §6): one trace id shared with the caller,
/// a span id of Outrigger's own, the caller's span as parent, and the sampling decision.
public struct TraceContext: Sendable, Equatable {
    /// 16 bytes as 32 lower-case hex digits.
    public var traceID: String
    /// Outrigger's own span, 8 bytes as 16 lower-case hex digits.
    public var spanID: String
    /// The caller's span, when the request carried one.
    public var parentSpanID: String?
    /// Whether the trace is sampled.
    public var sampled: Bool
    /// B3 debug flag, kept when it came in.
    public var debug = false
    /// The trace id as a B3 caller sent it (a 64-bit id stays 64-bit in B3 headers).
    public var b3TraceID: String?
    /// The W3C trace flags byte as the caller sent it, every bit (SPEC §17); nil when the trace did not come in as
    /// W3C, and then only the sampled bit is written.
    public var w3cFlags: UInt8?

    /// The trace id written in B3 headers.
    public var b3Trace: String { self.b3TraceID ?? self.traceID }

    /// The `traceparent` value (version 00) for the upstream.
    public var traceparent: String {
        var value = "00-"
        value.reserveCapacity(55)
        value += self.traceID
        value += "-"
        value += self.spanID
        let flags = self.w3cFlags ?? (self.sampled ? 1 : 0)
        value += "-"
        value.append(Character(Unicode.Scalar(Hex.digit(flags >> 4))))
        value.append(Character(Unicode.Scalar(Hex.digit(flags & 0x0F))))
        return value
    }

    /// The single `b3` header value for the upstream.
    public var b3Single: String {
        var value = self.b3Trace
        value.reserveCapacity(68)
        value += "-"
        value += self.spanID
        value += self.debug ? "-d" : (self.sampled ? "-1" : "-0")
        if let parent = self.parentSpanID {
            value += "-"
            value += parent
        }
        return value
    }
}

/// Lower-case hex helpers shared by the W3C and B3 parsers.
enum Hex {
    /// True when `text` is exactly `count` lower-case hex digits (uppercase is invalid in W3C, SPEC §6).
    static func isLowerHex(_ text: Substring, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// True when the hex digits are all zero (an invalid id).
    static func isZero(_ text: Substring) -> Bool { text.utf8.allSatisfy { $0 == 48 } }

    /// `count` random bytes as lower-case hex, written straight into the string's storage (this runs twice per
    /// request).
    static func random<G: RandomNumberGenerator>(bytes count: Int, using generator: inout G) -> String {
        var words: (UInt64, UInt64) = (generator.next(), count > 8 ? generator.next() : 0)
        return withUnsafeBytes(of: &words) { raw in
            String(unsafeUninitializedCapacity: count * 2) { out in
                for index in 0..<count {
                    let byte = raw[index]
                    out[index * 2] = Self.digit(byte >> 4)
                    out[index * 2 + 1] = Self.digit(byte & 0x0F)
                }
                return count * 2
            }
        }
    }

    @inline(__always)
    static func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 + nibble : 87 + nibble }

    /// A random non-zero id of `count` bytes.
    static func randomID<G: RandomNumberGenerator>(bytes count: Int, using generator: inout G) -> String {
        while true {
            let id = Self.random(bytes: count, using: &generator)
            if !Self.isZero(Substring(id)) { return id }
        }
    }
}
