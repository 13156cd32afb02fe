/// Where a listener binds: an IPv4 or bracketed IPv6 address with a port, or a unix socket path (SPEC §2).
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// `127.0.0.1:15001`, or `[::1]:15001` (the host without brackets).
    case inet(host: String, port: Int)
    /// `unix:/run/outrigger.sock`.
    case unix(path: String)

    /// Parses `HOST:PORT`, `[IPV6]:PORT` or `unix:/path`; returns a message naming what is wrong otherwise.
    public static func parse(_ text: String) -> Result<ListenAddress, AddressError> {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { return .failure(AddressError("unix socket address has no path: '\(text)'")) }
            return .success(.unix(path: path))
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return .failure(AddressError("IPv6 address is missing ']': '\(text)'"))
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                return .failure(AddressError("address has no port: '\(text)' (expected [IPV6]:PORT)"))
            }
            portText = rest.dropFirst()
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                return .failure(AddressError("not an IPv6 address: '\(host)'"))
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                return .failure(AddressError("address has no port: '\(text)' (expected HOST:PORT)"))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.isEmpty, !host.contains(":") else {
                return .failure(AddressError("bad address '\(text)' (IPv6 addresses are written [ADDR]:PORT)"))
            }
            guard Self.isIPv4(host) || host == "localhost" else {
                return .failure(AddressError("listen host must be an IP address, not '\(host)'"))
            }
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            return .failure(AddressError("bad port '\(portText)' in '\(text)' (expected 0-65535)"))
        }
        return .success(.inet(host: String(host), port: port))
    }

    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isNumber) && (Int(part) ?? 256) <= 255
        }
    }

    /// True for loopback addresses and unix sockets: the ones only this machine can reach.
    public var isLocalOnly: Bool {
        switch self {
        case .unix: return true
        case .inet(let host, _): return host.hasPrefix("127.") || host == "::1" || host == "localhost"
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): return "unix:\(path)"
        case .inet(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// Why an address could not be parsed.
public struct AddressError: Error, Sendable, Equatable {
    /// What is wrong, naming the offending text.
    public var message: String
    init(_ message: String) { self.message = message }
}
