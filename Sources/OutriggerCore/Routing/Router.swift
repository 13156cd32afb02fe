/// Picks the service for a request (SPEC §3): `routes` first, then the Host header; never an unlisted host.
public struct Router: Sendable {
    /// The result of routing: the service and the target to send upstream.
    public struct Match: Sendable {
        /// The chosen service.
        public var service: ServiceRuntime
        /// The origin-form request target sent upstream (prefix stripped when the route says so).
        public var target: String
    }

    let routes: [OutriggerConfig.Route]
    let services: [String: ServiceRuntime]

    /// Builds a router over a loaded configuration.
    public init(routes: [OutriggerConfig.Route], services: [String: ServiceRuntime]) {
        self.routes = routes
        self.services = services
    }

    /// Routes a request given its raw target and Host header value.
    public func route(target rawTarget: String, hostHeader: String?) -> Result<Match, OutriggerError> {
        var target = rawTarget
        var host = hostHeader.map(Self.normalize(host:))
        // Absolute form (RFC 9112 §3.2.2): the target's authority wins over the Host header.
        if let schemeEnd = Self.absoluteFormAuthorityStart(rawTarget) {
            let rest = rawTarget[schemeEnd...]
            let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            host = Self.normalize(host: String(rest[..<pathStart]))
            let path = rest[pathStart...]
            target = path.isEmpty ? "/" : (path.hasPrefix("?") ? "/" + path : String(path))
        }
        for route in self.routes where target.hasPrefix(route.pathPrefix) {
            if let required = route.host, required != host { continue }
            guard let service = self.services[route.service] else { continue }
            var sent = target
            if route.stripPrefix {
                sent = String(target.dropFirst(route.pathPrefix.count))
                if !sent.hasPrefix("/") { sent = "/" + sent }
            }
            return .success(Match(service: service, target: sent))
        }
        if let host, let service = self.services[host] {
            return .success(Match(service: service, target: target))
        }
        let shown = host ?? "(none)"
        return .failure(
            OutriggerError(
                .unknownService, "no route matches and host '\(shown)' is not a service of the registry"))
    }

    static func absoluteFormAuthorityStart(_ target: String) -> String.Index? {
        guard let first = target.first, first != "/" && first != "*" else { return nil }
        for scheme in ["http://", "https://"] where target.count > scheme.count {
            let prefix = target.prefix(scheme.count)
            if prefix.lowercased() == scheme { return target.index(target.startIndex, offsetBy: scheme.count) }
        }
        return nil
    }

    /// Lower-cases a host and removes its port (and IPv6 brackets' port), as SPEC §3 compares them.
    static func normalize(host: String) -> String {
        // Fast path, the common case: already a lower-case name without port.
        if host.utf8.allSatisfy({ ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 })
            || (host.utf8.allSatisfy({
                ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 46 || $0 == 95
            })
                && host.utf8.last != 46)
        {
            return host
        }
        var value = Substring(host)
        if let at = value.lastIndex(of: "@") { value = value[value.index(after: at)...] }
        if value.hasPrefix("[") {
            if let close = value.firstIndex(of: "]") { value = value[...close] }
        } else if let colon = value.lastIndex(of: ":") {
            value = value[..<colon]
        }
        if value.hasSuffix(".") { value = value.dropLast() }
        return value.lowercased()
    }
}
