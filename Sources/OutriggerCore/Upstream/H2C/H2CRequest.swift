import NIOHPACK

/// What an h2c try sends: the request's HEADERS (pseudo-headers first, names lower-cased, no connection-specific
/// fields) and how its response is framed for the client.
struct H2CRequest {
    var headers: HPACKHeaders
    /// No body: END_STREAM goes with the HEADERS.
    var bodyless: Bool
    var framing: UpstreamRequest.ClientFraming
    var holdStatuses: [Int]
    var holdsGRPCUnavailable: Bool

    /// The request after the header rules of SPEC §4: `Host` becomes `:authority` (the endpoint's address when the
    /// client sent none).
    init(
        method: String, target: String, endpoint: Endpoint, rules: RequestHeaderRules.Input, body: UpstreamRequest.Body,
        framing: UpstreamRequest.ClientFraming, holdStatuses: [Int], holdsGRPCUnavailable: Bool,
        scheme: String = "http"
    ) {
        var fields: [(String, String)] = []
        fields.reserveCapacity(rules.headers.count + 6)
        var authority: String?
        RequestHeaderRules.apply(rules) { name, value in
            let lower = name.lowercased()
            if lower == "host" {
                if authority == nil { authority = value }
                return
            }
            // Connection-specific fields are not allowed in HTTP/2 (RFC 9113 §8.2.2); the rules already dropped the
            // hop-by-hop ones except `te: trailers`.
            if lower == "content-length" && body == .chunked { return }
            fields.append((lower, value))
        }
        var headers = HPACKHeaders()
        headers.reserveCapacity(fields.count + 4)
        headers.add(name: ":method", value: method)
        headers.add(name: ":scheme", value: scheme)
        let fallback = endpoint.socketPath != nil ? "localhost" : "\(endpoint.host):\(endpoint.port)"
        headers.add(name: ":authority", value: authority ?? fallback)
        headers.add(name: ":path", value: target.isEmpty ? "/" : target)
        for (name, value) in fields { headers.add(name: name, value: value) }
        self.headers = headers
        self.bodyless = body == .none
        self.framing = framing
        self.holdStatuses = holdStatuses
        self.holdsGRPCUnavailable = holdsGRPCUnavailable
    }
}
