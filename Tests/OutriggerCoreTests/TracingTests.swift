import CCurl
import Glibc
import NIOHTTP1
import Testing

@testable import OutriggerCore

/// W3C Trace Context and B3 parsing and propagation (SPEC §6), with an injected generator.
@Suite("Trace context parsing and propagation")
struct TracingTests {
    static let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let parent = "00f067aa0ba902b7"

    @Test func w3c_validValue_parses() throws {
        let parsed = try W3CTraceParent.parse("00-\(Self.trace)-\(Self.parent)-01").get()
        #expect(parsed.traceID == Self.trace)
        #expect(parsed.parentID == Self.parent)
        #expect(parsed.sampled)
        #expect(try !W3CTraceParent.parse("00-\(Self.trace)-\(Self.parent)-00").get().sampled)
    }

    @Test(arguments: [
        ("00-\(trace)-\(parent)-0", W3CTraceParent.Invalid.length),
        ("00-\(trace)-\(parent)-011", .length),
        ("00_\(trace)-\(parent)-01", .delimiter),
        ("ff-\(trace)-\(parent)-01", .version),
        ("0g-\(trace)-\(parent)-01", .version),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-\(parent)-01", .traceID),
        ("00-00000000000000000000000000000000-\(parent)-01", .traceID),
        ("00-\(trace)-0000000000000000-01", .parentID),
        ("00-\(trace)-00f067aa0ba902bz-01", .parentID),
        ("00-\(trace)-\(parent)-0x", .flags),
        ("01-\(trace)-\(parent)-01.extra", .delimiter),
    ])
    func w3c_invalidValues_areRejected(value: String, reason: W3CTraceParent.Invalid) {
        #expect(W3CTraceParent.parse(value) == .failure(reason))
    }

    @Test func w3c_futureVersion_withExtraFields_isReadByItsFirstFour() throws {
        let parsed = try W3CTraceParent.parse("cc-\(Self.trace)-\(Self.parent)-01-what-the-future-holds").get()
        #expect(parsed.traceID == Self.trace)
        #expect(try W3CTraceParent.parse("01-\(Self.trace)-\(Self.parent)-01").get().parentID == Self.parent)
    }

    @Test func b3_single_andMulti_parse() throws {
        let single = try #require(
            B3Headers.parseSingle("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90"))
        #expect(single.traceID == "80f198ee56343ba864fe8b2a57d3eff7")
        #expect(single.parentSpanID == "05e3ac9a4f6e3b90")
        #expect(single.sampled == true)
        let short = try #require(B3Headers.parseSingle("64fe8b2a57d3eff7-e457b5a2e4d86bd1"))
        #expect(short.traceID128 == "000000000000000064fe8b2a57d3eff7")
        #expect(short.sampled == nil)
        #expect(B3Headers.parseSingle("0") == nil)
        #expect(B3Headers.parseSingle("nothex-e457b5a2e4d86bd1-1") == nil)
        #expect(B3Headers.parseSingle("64fe8b2a57d3eff7-e457b5a2e4d86bd1-x") == nil)
        let debug = try #require(B3Headers.parseSingle("64fe8b2a57d3eff7-e457b5a2e4d86bd1-d"))
        #expect(debug.debug)
        let multi = try #require(
            B3Headers.parseMulti(
                traceID: "463ac35c9f6413ad48485a3953bb6124", spanID: "a2fb4a1d1a96d312", parentSpanID: nil,
                sampled: "0", flags: nil))
        #expect(multi.sampled == false)
        #expect(
            B3Headers.parseMulti(traceID: "463ac35c9f6413ad", spanID: nil, parentSpanID: nil, sampled: nil, flags: nil)
                == nil)
    }

    /// A generator whose output the test knows: ids become predictable.
    struct Counting: RandomNumberGenerator {
        var value: UInt64 = 0x0102_0304_0506_0708
        mutating func next() -> UInt64 {
            self.value &+= 0x1111_1111_1111_1111
            return self.value
        }
    }

    func upstreamHeaders(_ headers: [(String, String)], formats: [OutriggerConfig.TraceFormat] = [.w3c, .b3])
        -> (TraceContext, [String])
    {
        let propagator = TracePropagator(formats: formats, sampleRatio: 1)
        var random = Counting()
        let context = propagator.context(for: HTTPHeaders(headers), using: &random)
        let list = RequestHeaderRules.curlHeaders(
            .init(
                headers: HTTPHeaders([("Host", "svc")] + headers), clientAddress: nil, requestID: "r",
                trace: (propagator, context)))
        let lines = HeaderRulesTests.drain(list)
        return (
            context,
            lines.filter {
                !$0.hasPrefix("Host") && !$0.hasPrefix("X-Forwarded") && !$0.hasPrefix("x-request-id")
                    && $0 != "Accept:" && $0 != "Expect:"
            }
        )
    }

    @Test func validTraceparent_keepsTraceAndFlags_newSpan_tracestateUnchanged() {
        let (context, lines) = self.upstreamHeaders([
            ("traceparent", "00-\(Self.trace)-\(Self.parent)-00"), ("tracestate", "congo=t61rcWkgMzE"),
            ("baggage", "userId=alice"),
        ])
        #expect(context.traceID == Self.trace)
        #expect(context.parentSpanID == Self.parent)
        #expect(context.spanID != Self.parent)
        #expect(
            lines == [
                "traceparent: 00-\(Self.trace)-\(context.spanID)-00", "tracestate: congo=t61rcWkgMzE",
                "baggage: userId=alice", "b3: \(Self.trace)-\(context.spanID)-0-\(Self.parent)",
            ])
    }

    @Test func invalidTraceparent_startsANewTrace() {
        let (context, lines) = self.upstreamHeaders([("traceparent", "00-\(Self.trace)-0000000000000000-01")])
        #expect(context.traceID != Self.trace)
        #expect(context.parentSpanID == nil)
        #expect(context.sampled)
        #expect(lines.first == "traceparent: 00-\(context.traceID)-\(context.spanID)-01")
    }

    @Test func b3Multi_isContinued_inMultiForm_withTheIncomingSpanAsParent() {
        let (context, lines) = self.upstreamHeaders(
            [("X-B3-TraceId", "64fe8b2a57d3eff7"), ("X-B3-SpanId", "e457b5a2e4d86bd1"), ("X-B3-Sampled", "1")],
            formats: [.b3])
        #expect(context.traceID == "000000000000000064fe8b2a57d3eff7")
        #expect(
            lines == [
                "X-B3-TraceId: 64fe8b2a57d3eff7", "X-B3-SpanId: \(context.spanID)", "X-B3-Sampled: 1",
                "X-B3-ParentSpanId: e457b5a2e4d86bd1",
            ])
    }

    @Test func bothFormats_w3cWins_andB3CarriesItsTraceID() {
        let (context, lines) = self.upstreamHeaders([
            ("traceparent", "00-\(Self.trace)-\(Self.parent)-01"),
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
        ])
        #expect(context.traceID == Self.trace)
        #expect(lines.contains("b3: \(Self.trace)-\(context.spanID)-1-\(Self.parent)"))
    }

    @Test func formatNotConfigured_passesUntouched_andIsNotWritten() {
        let b3 = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
        let (context, lines) = self.upstreamHeaders([("b3", b3)], formats: [.w3c])
        #expect(context.traceID != "80f198ee56343ba864fe8b2a57d3eff7")
        #expect(lines == ["b3: \(b3)", "traceparent: \(context.traceparent)"])
    }

    @Test func sampling_followsTheRatio_forNewTraces() {
        var random = FastRandom()
        let never = TracePropagator(formats: [.w3c], sampleRatio: 0)
        #expect(!never.context(for: HTTPHeaders(), using: &random).sampled)
        let half = TracePropagator(formats: [.w3c], sampleRatio: 0.5)
        let sampled = (0..<2000).filter { _ in half.context(for: HTTPHeaders(), using: &random).sampled }.count
        #expect((800...1200).contains(sampled))
    }

    @Test func accessRecord_rendersEveryField() {
        let record = AccessRecord(
            time: timespec(tv_sec: 1_764_063_000, tv_nsec: 123_000_000), client: "127.0.0.1", method: "GET",
            path: "/a?\"b\"", protocolVersion: "HTTP/2", service: "svc", endpoint: "127.0.0.1:1", status: 200,
            bytesIn: 3, bytesOut: 10,
            durationMs: 1.5, upstreamMs: 1.25, attempts: 1, error: nil, requestID: "r", traceID: "t", spanID: "s")
        #expect(
            record.json()
                == "{\"time\":\"2025-11-25T09:30:00.123Z\",\"client\":\"127.0.0.1\",\"method\":\"GET\",\"path\":\"/a?\\\"b\\\"\",\"protocol\":\"HTTP/2\",\"service\":\"svc\",\"endpoint\":\"127.0.0.1:1\",\"status\":200,\"grpc_status\":null,\"bytes_in\":3,\"bytes_out\":10,\"duration_ms\":1.500,\"upstream_ms\":1.250,\"attempts\":1,\"error\":null,\"fault\":null,\"request_id\":\"r\",\"trace_id\":\"t\",\"span_id\":\"s\"}"
        )
    }
}
