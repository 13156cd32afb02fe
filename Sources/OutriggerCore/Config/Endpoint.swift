/// One upstream address of a service: `host:port`, `http://host:port`, `https://host:port` or `unix:/path`.
public struct Endpoint: Sendable, Equatable, CustomStringConvertible {
    /// How the endpoint is reached.
    public enum Scheme: String, Sendable { case http, https, unix }

    /// The transport.
    public var scheme: Scheme
    /// Host name or address (without IPv6 brackets); empty for unix sockets.
    public var host: String
    /// TCP port; 0 for unix sockets.
    public var port: Int
    /// Socket path for `unix:` endpoints.
    public var socketPath: String?
    /// The text as written in the registry, used in logs and the admin API.
    public var original: String

    /// The URL prefix handed to libcurl; the request target is set separately, byte for byte.
    /// Computed once: it is read on every request.
    public let curlBaseURL: String

    /// Creates an endpoint.
    /// The base URL and `CURLOPT_CONNECT_TO` entry for an https endpoint reached under `serverName` (SNI and the
    /// verified name): the URL names the server, the connection goes to the endpoint's own address.
    func curlTarget(serverName: String?) -> (baseURL: String, connectTo: String?) {
        guard let serverName, self.scheme == .https else { return (self.curlBaseURL, nil) }
        let hostPart = self.host.contains(":") ? "[\(self.host)]" : self.host
        return ("https://\(serverName):\(self.port)/", "\(serverName):\(self.port):\(hostPart):\(self.port)")
    }

    public init(scheme: Scheme, host: String, port: Int, socketPath: String?, original: String) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.socketPath = socketPath
        self.original = original
        switch scheme {
        case .unix:
            self.curlBaseURL = "http://localhost/"
        case .http, .https:
            let hostPart = host.contains(":") ? "[\(host)]" : host
            self.curlBaseURL = "\(scheme.rawValue)://\(hostPart):\(port)/"
        }
    }

    public var description: String { self.original }

    /// Parses an endpoint as written in the registry.
    public static func parse(_ text: String) -> Result<Endpoint, AddressError> {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard path.hasPrefix("/") || path.hasPrefix(".") || !path.isEmpty else {
                return .failure(AddressError("unix endpoint has no path: '\(text)'"))
            }
            return .success(Endpoint(scheme: .unix, host: "", port: 0, socketPath: path, original: text))
        }
        var scheme = Scheme.http
        var rest = Substring(text)
        if let range = text.firstRange(of: "://") {
            let name = text[..<range.lowerBound]
            guard let parsed = Scheme(rawValue: String(name)), parsed != .unix else {
                return .failure(AddressError("unsupported scheme '\(name)' in '\(text)' (use http, https or unix)"))
            }
            scheme = parsed
            rest = text[range.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.contains("/") else {
            return .failure(AddressError("endpoint must not have a path: '\(text)'"))
        }
        let host: Substring
        let portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                return .failure(AddressError("IPv6 address is missing ']': '\(text)'"))
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            portText = after.isEmpty ? nil : (after.hasPrefix(":") ? after.dropFirst() : after)
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
            portText = nil
        }
        guard !host.isEmpty,
            host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" || $0 == "_" })
        else {
            return .failure(AddressError("bad host in endpoint '\(text)'"))
        }
        let port: Int
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                return .failure(AddressError("bad port '\(portText)' in endpoint '\(text)' (expected 1-65535)"))
            }
            port = value
        } else if scheme == .https {
            port = 443
        } else if text.contains("://") {
            port = 80
        } else {
            return .failure(AddressError("endpoint has no port: '\(text)' (expected HOST:PORT)"))
        }
        return .success(Endpoint(scheme: scheme, host: String(host), port: port, socketPath: nil, original: text))
    }
}
