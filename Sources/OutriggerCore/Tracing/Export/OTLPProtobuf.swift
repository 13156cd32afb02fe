// Internal imports: nothing of these modules is part of OutriggerCore's interface, so they are not loaded (and
// their autolinked libraries not linked) into what imports OutriggerCore.
internal import OTLPProto
internal import SwiftProtobuf

#if canImport(FoundationEssentials)
    internal import FoundationEssentials
#else
    internal import Foundation
#endif

/// OTLP/protobuf (`http/protobuf`) of a batch of spans: an `ExportTraceServiceRequest` built with the types
/// swift-protobuf generated from the official opentelemetry-proto definitions (`Sources/OTLPProto`,
/// `scripts/generate-otlp.sh`).
enum OTLPProtobuf {
    typealias Request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest

    static func encode(_ spans: [ExportedSpan], resource: [(String, ExportedSpan.Value)], scope: (String, String))
        -> [UInt8]
    {
        var request = Request()
        var resourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resourceSpans.resource.attributes = resource.map(Self.keyValue)
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope.name = scope.0
        scopeSpans.scope.version = scope.1
        scopeSpans.spans = spans.map(Self.span)
        resourceSpans.scopeSpans = [scopeSpans]
        request.resourceSpans = [resourceSpans]
        return (try? request.serializedBytes()) ?? []
    }

    static func span(_ span: ExportedSpan) -> Opentelemetry_Proto_Trace_V1_Span {
        var out = Opentelemetry_Proto_Trace_V1_Span()
        out.traceID = Self.bytes(hex: span.traceID)
        out.spanID = Self.bytes(hex: span.spanID)
        if let parent = span.parentSpanID { out.parentSpanID = Self.bytes(hex: parent) }
        out.name = span.name
        out.kind = .client
        out.startTimeUnixNano = span.startUnixNs
        out.endTimeUnixNano = span.endUnixNs
        out.attributes = span.attributes.map(Self.keyValue)
        out.events = span.events.map { event in
            var out = Opentelemetry_Proto_Trace_V1_Span.Event()
            out.name = event.name
            out.timeUnixNano = event.timeUnixNs
            out.attributes = event.attributes.map(Self.keyValue)
            return out
        }
        if let message = span.errorMessage {
            out.status.code = .error
            out.status.message = message
        }
        return out
    }

    static func keyValue(_ pair: (String, ExportedSpan.Value)) -> Opentelemetry_Proto_Common_V1_KeyValue {
        var out = Opentelemetry_Proto_Common_V1_KeyValue()
        out.key = pair.0
        switch pair.1 {
        case .string(let text): out.value.stringValue = text
        case .int(let number): out.value.intValue = number
        }
        return out
    }

    /// The bytes of a lower-case hex id.
    static func bytes(hex: String) -> Data {
        var out = [UInt8]()
        out.reserveCapacity(hex.utf8.count / 2)
        var high: UInt8?
        for byte in hex.utf8 {
            let nibble: UInt8
            switch byte {
            case 48...57: nibble = byte - 48
            case 97...102: nibble = byte - 87
            case 65...70: nibble = byte - 55
            default: continue
            }
            if let first = high {
                out.append(first << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return Data(out)
    }
}
