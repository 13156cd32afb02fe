import Glibc

/// The span of one finished request (SPEC §13): kind CLIENT, its id the one sent upstream, its parent the
/// incoming span, named after the method, with the HTTP semantic-convention attributes and Outrigger's own.
enum SpanBuilder {
    static func span(for exchange: Exchange, trace: TraceContext, status: Int, error: String?) -> ExportedSpan {
        let head = exchange.head
        var attributes: [(String, ExportedSpan.Value)] = [
            ("http.request.method", .string(head.method.rawValue)),
            ("url.path", .string(String(head.uri.prefix { $0 != "?" }))),
        ]
        // The server this span called: the endpoint of the last try, else the Host the client asked for.
        if let (host, port) = exchange.endpointAddress, port > 0 {
            attributes.append(("server.address", .string(host)))
            attributes.append(("server.port", .int(Int64(port))))
        } else if let host = head.headers.first(name: "host") {
            let name = host.split(separator: ":").first.map(String.init) ?? host
            attributes.append(("server.address", .string(name)))
        }
        attributes.append(("http.response.status_code", .int(Int64(status))))
        let version = head.version
        attributes.append(
            ("network.protocol.version", .string(version.major >= 2 ? "2" : "\(version.major).\(version.minor)")))
        if let service = exchange.service?.name { attributes.append(("outrigger.service", .string(service))) }
        attributes.append(("outrigger.attempts", .int(Int64(exchange.tries))))
        if let error { attributes.append(("outrigger.error", .string(error))) }
        let events = exchange.retryEvents.map { event in
            ExportedSpan.Event(
                name: "retry", timeUnixNs: event.timeUnixNs,
                attributes: [
                    ("outrigger.retry.reason", .string(event.failure)),
                    ("outrigger.attempt", .int(Int64(event.attempt))),
                ])
        }
        var errorMessage: String?
        if let error {
            errorMessage = error
        } else if status >= 500 {
            errorMessage = "HTTP \(status)"
        }
        return ExportedSpan(
            traceID: trace.traceID, spanID: trace.spanID, parentSpanID: trace.parentSpanID, name: head.method.rawValue,
            startUnixNs: Self.unixNs(exchange.startedWall), endUnixNs: Self.unixNs(AccessRecord.now()),
            attributes: attributes, errorMessage: errorMessage, events: events)
    }

    static func unixNs(_ time: timespec) -> UInt64 {
        UInt64(max(time.tv_sec, 0)) * 1_000_000_000 + UInt64(max(time.tv_nsec, 0))
    }
}
