import CCurl
import NIOHTTP1

/// The request-side header rules of SPEC §4, applied while building the header list handed to libcurl.
///
/// Order and duplicates are kept; hop-by-hop headers (and those the client's `Connection` names) are dropped;
/// `X-Forwarded-For` gets the client address appended; a client's own `x-forwarded-client-cert` is dropped; `X-Forwarded-Proto` and `X-Forwarded-Host` are set only when
/// absent; `x-request-id` carries the id of this request; and curl's own `Accept` and `Expect` are suppressed so the
/// upstream sees only what the client sent.
enum RequestHeaderRules {
    struct Input {
        var headers: HTTPHeaders
        var clientAddress: String?
        var requestID: String
        /// Trace headers to write (nil: trace headers pass untouched).
        var trace: (propagator: TracePropagator, context: TraceContext)? = nil
        /// The scheme the client used, for `X-Forwarded-Proto` when the client sent none.
        var forwardedProto = "http"
        /// The verified client certificate (SPEC §18), sent as `x-forwarded-client-cert`.
        var clientCertificate: String? = nil
        /// The upstream speaks HTTP/2: a client's `te: trailers` goes on (SPEC §10).
        var upstreamIsHTTP2 = false
    }

    /// Whether the client's `TE` allows trailers: `te: trailers` then goes on (gRPC servers require it, SPEC §10),
    /// the one TE value a hop-by-hop rule lets through.
    static func wantsTrailers(_ headers: HTTPHeaders) -> Bool {
        headers[canonicalForm: "te"].contains { $0.lowercased() == "trailers" }
    }

    /// Headers the rules treat specially, recognised without allocating a lower-cased copy of every name.
    enum Special {
        case none, expect, accept, host, forwardedProto, forwardedHost, forwardedFor, requestID, clientCertificate
        /// `x-outrigger-fault-delay-ms` or `x-outrigger-fault-abort` (SPEC §11): never sent upstream.
        case faultRequest
        /// A trace header, with its lower-cased name.
        case trace(String)
    }

    static func classify(_ name: String) -> Special {
        let utf8 = name.utf8
        switch utf8.count {
        case 2 where HeaderNames.equalsLowercase(utf8, "b3"): return .trace("b3")
        case 4 where HeaderNames.equalsLowercase(utf8, "host"): return .host
        case 6 where HeaderNames.equalsLowercase(utf8, "expect"): return .expect
        case 6 where HeaderNames.equalsLowercase(utf8, "accept"): return .accept
        case 11 where HeaderNames.equalsLowercase(utf8, "traceparent"): return .trace("traceparent")
        case 11 where HeaderNames.equalsLowercase(utf8, "x-b3-spanid"): return .trace("x-b3-spanid")
        case 12 where HeaderNames.equalsLowercase(utf8, "x-request-id"): return .requestID
        case 12 where HeaderNames.equalsLowercase(utf8, "x-b3-traceid"): return .trace("x-b3-traceid")
        case 12 where HeaderNames.equalsLowercase(utf8, "x-b3-sampled"): return .trace("x-b3-sampled")
        case 15 where HeaderNames.equalsLowercase(utf8, "x-forwarded-for"): return .forwardedFor
        case 16 where HeaderNames.equalsLowercase(utf8, "x-forwarded-host"): return .forwardedHost
        case 17 where HeaderNames.equalsLowercase(utf8, "x-forwarded-proto"): return .forwardedProto
        case 17 where HeaderNames.equalsLowercase(utf8, "x-b3-parentspanid"): return .trace("x-b3-parentspanid")
        case 23 where HeaderNames.equalsLowercase(utf8, "x-forwarded-client-cert"): return .clientCertificate
        case 23 where HeaderNames.equalsLowercase(utf8, "x-outrigger-fault-abort"): return .faultRequest
        case 26 where HeaderNames.equalsLowercase(utf8, "x-outrigger-fault-delay-ms"): return .faultRequest
        default: return .none
        }
    }

    /// Builds the curl header list in one allocation (`CurlHeaderList`). The caller owns the returned list (freed
    /// by the worker after the transfer with `CurlHeaderList.free`).
    static func curlHeaders(_ input: Input) -> UnsafeMutablePointer<curl_slist>? {
        var capacity = 160 + input.requestID.utf8.count + (input.clientCertificate.map { $0.utf8.count + 28 } ?? 0)
        for (name, value) in input.headers { capacity += name.utf8.count + value.utf8.count + 3 }
        var list = CurlHeaderList(capacity: capacity)
        let sawAccept = Self.apply(input) { list.append(name: $0, value: $1) }
        // curl's own defaults, suppressed: an empty value removes them.
        if !sawAccept { list.append(line: "Accept:") }
        list.append(line: "Expect:")
        return list.build()
    }

    /// Hands the request's headers, after the rules, to `append` in order (the curl list above, or the head of an
    /// upgrade NIO writes itself). Returns whether the client sent an `Accept`.
    @discardableResult
    static func apply(_ input: Input, append: (String, String) -> Void) -> Bool {
        var connectionTokens: [Substring] = []
        for value in input.headers[canonicalForm: "connection"] { connectionTokens.append(value) }

        var sawAccept = false
        var sawForwardedFor = false
        var sawProto = false
        var sawForwardedHost = false
        var sawRequestID = false
        var host: String?
        let lastForwardedFor = input.headers.lastIndex(name: "x-forwarded-for")
        var tracePresent: Set<String> = []

        for (index, (name, value)) in input.headers.enumerated() {
            if HeaderNames.isHopByHop(name) { continue }
            if !connectionTokens.isEmpty
                && connectionTokens.contains(where: { HeaderNames.equalsIgnoringCase($0.utf8, name.utf8) })
            {
                continue
            }
            var value = value
            switch Self.classify(name) {
            case .none:
                break
            case .trace(let lower):
                if let trace = input.trace,
                    let rewritten = trace.propagator.rewrite(lowercasedName: lower, context: trace.context)
                {
                    // A trace header of a configured format: same trace, Outrigger's span (SPEC §6). Once per name.
                    guard let rewritten, tracePresent.insert(lower).inserted else { continue }
                    value = rewritten
                }
            case .expect:
                // Outrigger answers 100-continue itself and streams the body; the upstream never waits for it.
                continue
            case .accept:
                sawAccept = true
            case .host:
                if host == nil { host = value }
            case .forwardedProto:
                sawProto = true
            case .forwardedHost:
                sawForwardedHost = true
            case .forwardedFor:
                sawForwardedFor = true
                if index == lastForwardedFor, let client = input.clientAddress {
                    value = value.isEmpty ? client : value + ", " + client
                }
            case .clientCertificate:
                // Only Outrigger describes the client's certificate; a client cannot claim one (as Envoy sanitises).
                continue
            case .faultRequest:
                // Read by the fault decision where allowed, ignored otherwise: the upstream never sees them.
                continue
            case .requestID:
                if sawRequestID { continue }
                sawRequestID = true
                value = input.requestID
            }
            append(name, value)
        }
        if !sawForwardedFor, let client = input.clientAddress { append("X-Forwarded-For", client) }
        if !sawProto { append("X-Forwarded-Proto", input.forwardedProto) }
        if let certificate = input.clientCertificate { append("x-forwarded-client-cert", certificate) }
        if input.upstreamIsHTTP2 && Self.wantsTrailers(input.headers) { append("te", "trailers") }
        if !sawForwardedHost, let host { append("X-Forwarded-Host", host) }
        if !sawRequestID { append("x-request-id", input.requestID) }
        if let trace = input.trace {
            trace.propagator.additions(present: tracePresent, context: trace.context) { append($0, $1) }
        }
        return sawAccept
    }
}

extension HTTPHeaders {
    /// The position of the last header with this name (case-insensitive), if any.
    func lastIndex(name: String) -> Int? {
        var found: Int?
        for (index, header) in self.enumerated() where HeaderNames.equalsIgnoringCase(header.name.utf8, name.utf8) {
            found = index
        }
        return found
    }
}
