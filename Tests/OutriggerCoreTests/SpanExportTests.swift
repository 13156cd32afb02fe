import OTLPProto
import SwiftProtobuf
import Testing

@testable import OutriggerCore

@Suite("Span export without sockets (SPEC §13)")
struct SpanExportTests {
    static func span(_ id: String = "00f067aa0ba902b7") -> ExportedSpan {
        ExportedSpan(
            traceID: "4bf92f3577b34da6a3ce929d0e0e4736", spanID: id, parentSpanID: "b7ad6b7169203331", name: "GET",
            startUnixNs: 1_000, endUnixNs: 2_000,
            attributes: [("http.request.method", .string("GET")), ("http.response.status_code", .int(503))],
            errorMessage: "HTTP 503",
            events: [
                .init(name: "retry", timeUnixNs: 1_500, attributes: [("outrigger.retry.reason", .string("http_503"))])
            ])
    }

    @Test func theEnvironmentFillsOnlyWhatTheFileLeftOut_signalSpecificFirst() {
        var settings = OTLPSettings()
        settings.serviceName = "from-file"
        let problems = settings.applyEnvironment(
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf", "OTEL_SERVICE_NAME": "from-env",
                "OTEL_EXPORTER_OTLP_HEADERS": "a=1", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-key=a%20b,tenant=t",
                "OTEL_EXPORTER_OTLP_COMPRESSION": "none",
            ], fileKeys: [.serviceName])
        #expect(problems.isEmpty)
        #expect(settings.endpoint == "http://collector:4318/v1/traces")
        #expect(settings.wireProtocol == .protobuf)  // the signal-specific variable wins
        #expect(settings.headers.map { "\($0.name)=\($0.value)" } == ["x-key=a b", "tenant=t"])
        #expect(settings.serviceName == "from-file" && settings.compression == .none)
        var direct = OTLPSettings()
        _ = direct.applyEnvironment(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/custom"], fileKeys: [])
        #expect(direct.endpoint == "http://c/custom")  // used as is
        var bad = OTLPSettings()
        let errors = bad.applyEnvironment(
            ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_HEADERS": "nokey"], fileKeys: [])
        #expect(errors.count == 2 && errors[0].hasPrefix("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"))
    }

    @Test func aFullQueue_dropsAndCounts_neverBlocks() {
        let queue = SpanQueue(capacity: 3, batchSize: 2)
        for index in 0..<5 { queue.push(Self.span(String(repeating: "\(index)", count: 16))) }
        #expect(queue.count == 3 && queue.dropped == 2)
        let (batch, closed) = queue.take(waitingMs: 0)
        #expect(batch.count == 2 && !closed && queue.count == 1)
        queue.putBack(batch + batch)  // room for 2 of 4
        #expect(queue.count == 3 && queue.dropped == 4)
        queue.close()
        #expect(queue.take(waitingMs: 1000).closed)
    }

    @Test func protobuf_decodesWithTheGeneratedTypes() throws {
        let bytes = OTLPProtobuf.encode(
            [Self.span()], resource: [("service.name", .string("edge"))], scope: ("outrigger", "1"))
        let request = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: bytes)
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(
            span.traceID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(span.spanID.count == 8 && span.parentSpanID.count == 8)
        #expect(span.kind == .client && span.name == "GET")
        #expect(span.status.code == .error && span.status.message == "HTTP 503")
        #expect(span.attributes.map(\.key) == ["http.request.method", "http.response.status_code"])
        #expect(span.attributes[1].value.intValue == 503)
        #expect(span.events.map(\.name) == ["retry"] && span.events[0].timeUnixNano == 1_500)
        #expect(request.resourceSpans[0].resource.attributes[0].value.stringValue == "edge")
    }

    @Test func json_writesHexIdsAndIntegerEnums() {
        let text = OTLPJSON.encode(
            [Self.span()], resource: [("service.name", .string("edge"))], scope: ("outrigger", "1"))
        #expect(text.contains(#""traceId":"4bf92f3577b34da6a3ce929d0e0e4736""#))
        #expect(text.contains(#""kind":3"#) && text.contains(#""status":{"code":2,"message":"HTTP 503"}"#))
        #expect(text.contains(#"{"key":"http.response.status_code","value":{"intValue":"503"}}"#))
        #expect(text.contains(#""startTimeUnixNano":"1000""#))
    }

    @Test func gzip_andRetryAfter() {
        let data = Array(repeating: UInt8(ascii: "a"), count: 10_000)
        let compressed = SpanExporter.gzip(data)
        #expect(compressed != nil && compressed!.count < 200 && compressed!.prefix(2) == [0x1F, 0x8B])
        #expect(
            SpanExporter.retryAfterMs("3") == 3000 && SpanExporter.retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT") == nil)
    }
}
