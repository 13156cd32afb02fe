import CCurl
import NIOHTTP1

/// The request-side header rules of SPEC §4, applied while building the header list handed to libcurl.
///
/// Order and duplicates are kept; hop-by-hop headers (and those the client's `Connection` names) are dropped;
/// `X-Forwarded-For` gets the client address appended; `X-Forwarded-Proto` and `X-Forwarded-Host` are set only when
/// absent; `x-request-id` carries the id of this request; and curl's own `Accept` and `Expect` are suppressed so the
/// upstream sees only what the client sent.
enum RequestHeaderRules {
    struct Input {
        var headers: HTTPHeaders
        var clientAddress: String?
        var requestID: String
        /// The client's own x-request-id was sane and is kept as is.
        var requestIDWasKept: Bool
        /// Trace headers to write (nil: trace headers pass untouched).
        var trace: (propagator: TracePropagator, context: TraceContext)? = nil
    }

    /// Builds the curl header list. The caller owns the returned list (freed by the worker after the transfer).
    static func curlHeaders(_ input: Input) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        func append(_ line: String) {
            if let next = curl_slist_append(list, line) { list = next }
        }
        var connectionTokens: [String] = []
        for value in input.headers[canonicalForm: "connection"] { connectionTokens.append(value.lowercased()) }

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
            let lower = name.lowercased()
            if !connectionTokens.isEmpty && connectionTokens.contains(lower) { continue }
            var value = value
            if let trace = input.trace,
                let rewritten = trace.propagator.rewrite(lowercasedName: lower, context: trace.context)
            {
                // A trace header of a configured format: same trace, Outrigger's span (SPEC §6). Once per name.
                guard let rewritten, tracePresent.insert(lower).inserted else { continue }
                value = rewritten
            }
            switch lower {
            case "expect":
                // Outrigger answers 100-continue itself and streams the body; the upstream never waits for it.
                continue
            case "accept":
                sawAccept = true
            case "host":
                if host == nil { host = value }
            case "x-forwarded-proto":
                sawProto = true
            case "x-forwarded-host":
                sawForwardedHost = true
            case "x-forwarded-for":
                sawForwardedFor = true
                if index == lastForwardedFor, let client = input.clientAddress {
                    value = value.isEmpty ? client : value + ", " + client
                }
            case "x-request-id":
                if sawRequestID { continue }
                sawRequestID = true
                value = input.requestID
            default:
                break
            }
            // curl sends a header with an empty value only when written "Name;".
            append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        if !sawForwardedFor, let client = input.clientAddress { append("X-Forwarded-For: \(client)") }
        if !sawProto { append("X-Forwarded-Proto: http") }
        if !sawForwardedHost, let host { append("X-Forwarded-Host: \(host)") }
        if !sawRequestID { append("x-request-id: \(input.requestID)") }
        if let trace = input.trace {
            for (name, value) in trace.propagator.additions(present: tracePresent, context: trace.context) {
                append("\(name): \(value)")
            }
        }
        if !sawAccept { append("Accept:") }
        append("Expect:")
        return list
    }
}

extension HTTPHeaders {
    /// The position of the last header with this name (case-insensitive), if any.
    func lastIndex(name: String) -> Int? {
        var found: Int?
        for (index, header) in self.enumerated() where header.name.lowercased() == name { found = index }
        return found
    }
}
