/// OTLP/JSON (`http/json`) of a batch of spans: the protobuf messages in proto3's JSON mapping with OTLP's two
/// exceptions — trace and span ids as hex strings, enums as integers (opentelemetry-proto's docs/specification.md).
enum OTLPJSON {
    static func encode(_ spans: [ExportedSpan], resource: [(String, ExportedSpan.Value)], scope: (String, String))
        -> String
    {
        var out = "{\"resourceSpans\":[{\"resource\":{\"attributes\":"
        Self.attributes(resource, into: &out)
        out += "},\"scopeSpans\":[{\"scope\":{\"name\":\(JSON.quote(scope.0)),\"version\":\(JSON.quote(scope.1))},"
        out += "\"spans\":["
        for (index, span) in spans.enumerated() {
            if index > 0 { out += "," }
            out += "{\"traceId\":\(JSON.quote(span.traceID)),\"spanId\":\(JSON.quote(span.spanID)),"
            if let parent = span.parentSpanID { out += "\"parentSpanId\":\(JSON.quote(parent))," }
            out += "\"name\":\(JSON.quote(span.name)),\"kind\":3,"  // SPAN_KIND_CLIENT
            out += "\"startTimeUnixNano\":\"\(span.startUnixNs)\",\"endTimeUnixNano\":\"\(span.endUnixNs)\","
            out += "\"attributes\":"
            Self.attributes(span.attributes, into: &out)
            out += ",\"events\":["
            for (eventIndex, event) in span.events.enumerated() {
                if eventIndex > 0 { out += "," }
                out += "{\"timeUnixNano\":\"\(event.timeUnixNs)\",\"name\":\(JSON.quote(event.name)),\"attributes\":"
                Self.attributes(event.attributes, into: &out)
                out += "}"
            }
            out += "],\"status\":"
            if let message = span.errorMessage {
                out += "{\"code\":2,\"message\":\(JSON.quote(message))}"  // STATUS_CODE_ERROR
            } else {
                out += "{}"
            }
            out += "}"
        }
        out += "]}]}]}"
        return out
    }

    private static func attributes(_ attributes: [(String, ExportedSpan.Value)], into out: inout String) {
        out += "["
        for (index, (key, value)) in attributes.enumerated() {
            if index > 0 { out += "," }
            out += "{\"key\":\(JSON.quote(key)),\"value\":"
            switch value {
            case .string(let text): out += "{\"stringValue\":\(JSON.quote(text))}"
            case .int(let number): out += "{\"intValue\":\"\(number)\"}"
            }
            out += "}"
        }
        out += "]"
    }
}
