/// A parsed W3C `traceparent` header (https://www.w3.org/TR/trace-context/#traceparent-header).
public struct W3CTraceParent: Sendable, Equatable {
    /// 32 lower-case hex digits, not all zero.
    public var traceID: String
    /// The caller's span: 16 lower-case hex digits, not all zero.
    public var parentID: String
    /// The trace flags byte; bit 0 is "sampled".
    public var flags: UInt8

    /// Whether the sampled flag is set.
    public var sampled: Bool { self.flags & 1 == 1 }

    /// Why a value was rejected; a rejected header starts a new trace.
    public enum Invalid: Error, Equatable {
        case length, delimiter, version, traceID, parentID, flags
    }

    /// Parses strictly: lower-case hex, exact lengths, no all-zero ids, version `ff` invalid. A future version
    /// (above 00) is read by its first four fields when the rest is separated by '-', as the spec requires.
    public static func parse(_ value: String) -> Result<W3CTraceParent, Invalid> {
        let text = Substring(value)
        let utf8 = Array(text.utf8)
        guard utf8.count >= 55 else { return .failure(.length) }
        guard utf8[2] == 45, utf8[35] == 45, utf8[52] == 45 else { return .failure(.delimiter) }
        let version = text.prefix(2)
        guard Hex.isLowerHex(version, count: 2), version != "ff" else { return .failure(.version) }
        if version == "00" {
            guard utf8.count == 55 else { return .failure(.length) }
        } else if utf8.count > 55 {
            guard utf8[55] == 45 else { return .failure(.delimiter) }
        }
        let trace = text.dropFirst(3).prefix(32)
        guard Hex.isLowerHex(trace, count: 32), !Hex.isZero(trace) else { return .failure(.traceID) }
        let parent = text.dropFirst(36).prefix(16)
        guard Hex.isLowerHex(parent, count: 16), !Hex.isZero(parent) else { return .failure(.parentID) }
        let flagsText = text.dropFirst(53).prefix(2)
        guard Hex.isLowerHex(flagsText, count: 2), let flags = UInt8(flagsText, radix: 16) else {
            return .failure(.flags)
        }
        return .success(W3CTraceParent(traceID: String(trace), parentID: String(parent), flags: flags))
    }
}
