import NIOHTTP1

/// One admin response.
struct AdminResponse: Sendable {
    var status: HTTPResponseStatus
    var body: String
    var contentType = "application/json"
    var headers: [(String, String)] = []
}

/// The admin API of SPEC §7 as one `match` on method and path (as linkerd's admin server): JSON unless noted,
/// 404 and 405 as JSON, mutations only by POST, bearer token checked in constant time when configured.
struct AdminRouter: Sendable {
    let runtime: DaemonRuntime
    /// The token the listener started with; the running configuration's token, when it has one, takes over, so
    /// a reload can rotate it.
    let token: String?

    /// The token required now.
    var currentToken: String? { self.runtime.proxy.state().loaded.config.admin.token ?? self.token }

    /// Probes need no secret (SPEC §16): a kubelet or Docker health check can call them without a token.
    static func isProbe(_ parts: [String]) -> Bool {
        parts.count == 1 && (parts[0] == "healthz" || parts[0] == "ready")
    }

    /// Requests that read files (reload) must not run on the admin event loop.
    func mustRunOffLoop(method: HTTPMethod, uri: String) -> Bool {
        method == .POST && Self.path(of: uri).split(separator: "/") == ["reload"]
    }

    /// A query parameter's raw value (the first, not percent-decoded: the admin API's values are numbers).
    static func query(_ uri: String, _ name: String) -> String? {
        guard let mark = uri.firstIndex(of: "?") else { return nil }
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.first == Substring(name) { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }

    /// The request target without its query.
    static func path(of uri: String) -> String {
        uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
    }

    func handle(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: String = "") -> AdminResponse {
        let path = Self.path(of: uri)
        let parts = path.split(separator: "/").map(String.init)
        // The live page holds no data (it reads the API with the token its user enters), so a browser gets it
        // without one: a navigation cannot send a bearer header.
        if parts.isEmpty, method == .GET || method == .HEAD, Self.wantsHTML(headers) {
            return AdminResponse(
                status: .ok, body: AdminPage.html, contentType: "text/html; charset=utf-8",
                headers: [
                    ("content-security-policy", AdminPage.contentSecurityPolicy), ("cache-control", "no-cache"),
                    ("x-content-type-options", "nosniff"), ("vary", "accept"),
                ])
        }
        if !Self.isProbe(parts), let token = self.currentToken {
            let given = headers.first(name: "authorization") ?? ""
            guard Self.constantTimeEquals(given, "Bearer " + token) else {
                return AdminResponse(
                    status: .unauthorized, body: AdminJSON.error("unauthorized", "send Authorization: Bearer TOKEN"),
                    headers: [("www-authenticate", "Bearer")])
            }
        }
        if method != .GET, method != .HEAD, let refusal = Self.crossOriginRefusal(headers) { return refusal }
        switch parts.first {
        case nil:
            return self.only(.GET, method) {
                AdminResponse(status: .ok, body: AdminJSON.encode(AdminIndex()), headers: [("vary", "accept")])
            }
        case "healthz" where parts.count == 1:
            return self.only(.GET, method) { AdminResponse(status: .ok, body: "ok\n", contentType: "text/plain") }
        case "ready" where parts.count == 1:
            return self.only(.GET, method) {
                self.runtime.ready.load(ordering: .relaxed)
                    ? AdminResponse(status: .ok, body: "{\"ready\":true}\n")
                    : AdminResponse(status: .serviceUnavailable, body: "{\"ready\":false}\n")
            }
        case "stats" where parts.count == 1:
            return self.only(.GET, method) {
                AdminResponse(status: .ok, body: AdminJSON.encode(StatsView(self.runtime)))
            }
        case "metrics" where parts.count == 1:
            return self.only(.GET, method) {
                AdminResponse(
                    status: .ok, body: PrometheusRenderer.render(PrometheusRenderer.snapshot(self.runtime)),
                    contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        case "history" where parts.count == 1:
            return self.only(.GET, method) {
                var since: Int64?
                if let text = Self.query(uri, "since") {
                    guard let value = Int64(text), value >= 0 else {
                        return AdminResponse(
                            status: .badRequest,
                            body: AdminJSON.error(
                                "bad_request", "since must be a time in milliseconds since the epoch, not '\(text)'"))
                    }
                    since = value
                }
                return AdminResponse(
                    status: .ok, body: AdminJSON.encode(HistoryView(self.runtime, sinceMs: since), compact: true))
            }
        case "openapi.json" where parts.count == 1:
            return self.only(.GET, method) { AdminResponse(status: .ok, body: AdminOpenAPI.json) }
        case "services" where parts.count == 1:
            return self.only(.GET, method) {
                AdminResponse(status: .ok, body: AdminJSON.encode(ServicesView(self.runtime)))
            }
        case "config" where parts.count == 1:
            return self.only(.GET, method) {
                AdminResponse(status: .ok, body: AdminJSON.encode(ConfigView(self.runtime.proxy.state().loaded)))
            }
        case "reload" where parts.count == 1:
            return self.only(.POST, method) { self.reload() }
        case "breakers":
            return self.breakers(Array(parts.dropFirst()), method: method)
        case "faults":
            return self.faults(Array(parts.dropFirst()), method: method, body: body)
        default:
            return AdminResponse(status: .notFound, body: AdminJSON.error("not_found", "no admin endpoint at \(path)"))
        }
    }

    /// A change asked for by another site's page in the operator's browser (a form or script posting to the
    /// loopback admin port): refused with 403, as Go's `CrossOriginProtection` does. Browsers mark such requests
    /// with `Sec-Fetch-Site` or an `Origin` that is not this host; the live page's own calls are same-origin, and
    /// curl, scripts and `outrigger status` send neither header.
    static func crossOriginRefusal(_ headers: HTTPHeaders) -> AdminResponse? {
        let site = headers.first(name: "sec-fetch-site")?.lowercased()
        var foreign = site == "cross-site" || site == "same-site"
        if site == nil, let origin = headers.first(name: "origin") {
            let host = headers.first(name: "host")?.lowercased() ?? ""
            let authority = origin.lowercased().split(separator: "/", omittingEmptySubsequences: true).dropFirst()
                .first
            foreign = origin == "null" || authority.map { String($0) != host } ?? true
        }
        guard foreign else { return nil }
        return AdminResponse(
            status: .forbidden,
            body: AdminJSON.error(
                "cross_origin", "changes from another site's page are refused; use this admin port's own page or curl"))
    }

    /// A browser asks for HTML first; an API client (curl's `*/*`, `application/json`) gets the JSON index.
    static func wantsHTML(_ headers: HTTPHeaders) -> Bool {
        headers[canonicalForm: "accept"].contains { $0.lowercased().hasPrefix("text/html") }
    }

    func only(_ allowed: HTTPMethod, _ method: HTTPMethod, _ body: () -> AdminResponse) -> AdminResponse {
        self.only([allowed], method, body)
    }

    /// Answers with `body` for an allowed method (HEAD where GET is), else 405 with `Allow`.
    func only(_ allowed: [HTTPMethod], _ method: HTTPMethod, _ body: () -> AdminResponse) -> AdminResponse {
        guard allowed.contains(method) || (allowed.contains(.GET) && method == .HEAD) else {
            let names = allowed.map(\.rawValue)
            let spoken = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + names.last! : names[0]
            return AdminResponse(
                status: .methodNotAllowed, body: AdminJSON.error("method_not_allowed", "use \(spoken)"),
                headers: [("allow", names.joined(separator: ", "))])
        }
        return body()
    }

    private func reload() -> AdminResponse {
        switch self.runtime.reload() {
        case .applied(let summary):
            return AdminResponse(status: .ok, body: "{\"reloaded\":true,\"summary\":\(JSON.quote(summary))}\n")
        case .refused(let errors):
            let list = errors.map(JSON.quote).joined(separator: ",")
            return AdminResponse(
                status: .badRequest,
                body: "{\"reloaded\":false,\"error\":\"invalid_config\",\"errors\":[\(list)],"
                    + "\"message\":\"the running configuration is kept\"}\n")
        }
    }

    private func breakers(_ rest: [String], method: HTTPMethod) -> AdminResponse {
        let state = self.runtime.proxy.state()
        if rest.isEmpty {
            return self.only(.GET, method) {
                let views = state.loaded.registry.order.compactMap { state.services[$0] }.map {
                    BreakerView($0, runtime: self.runtime)
                }
                return AdminResponse(status: .ok, body: AdminJSON.encode(["breakers": views]))
            }
        }
        // The method is checked before the name: which methods a path takes does not depend on the registry.
        if rest.count == 1 {
            return self.only(.GET, method) {
                guard let service = state.services[rest[0]] else { return Self.unknownService(rest[0]) }
                return AdminResponse(status: .ok, body: AdminJSON.encode(BreakerView(service, runtime: self.runtime)))
            }
        }
        guard rest.count == 2, ["open", "close", "reset"].contains(rest[1]) else {
            return AdminResponse(status: .notFound, body: AdminJSON.error("not_found", "use open, close or reset"))
        }
        return self.only(.POST, method) {
            guard let service = state.services[rest[0]] else { return Self.unknownService(rest[0]) }
            switch rest[1] {
            case "open": service.forceBreaker(.open)
            case "close": service.forceBreaker(.closed)
            default: service.resetBreaker()
            }
            return AdminResponse(status: .ok, body: AdminJSON.encode(BreakerView(service, runtime: self.runtime)))
        }
    }

    static func unknownService(_ name: String) -> AdminResponse {
        AdminResponse(status: .notFound, body: AdminJSON.error("unknown_service", "no service named '\(name)'"))
    }

    /// Compares without an early exit, so response time does not reveal how much of a token was right.
    static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
        for index in 0..<max(x.count, y.count) {
            let p = index < x.count ? x[index] : 0
            let q = index < y.count ? y[index] : 0
            difference |= p ^ q
        }
        return difference == 0 && x.count == y.count
    }
}
