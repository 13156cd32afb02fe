/// Byte-level header name helpers shared by the request and response paths.
enum HeaderNames {
    /// The hop-by-hop headers of SPEC §4, lower-cased.
    static let hopByHop: [String] = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding",
        "upgrade",
    ]

    /// The decimal digits of a header value read as a number (other bytes skipped), clamped to `limit` so no value
    /// can overflow.
    static func decimal<C: Collection<UInt8>>(_ value: C, limit: Int) -> Int {
        var number = 0
        for byte in value where byte >= 48 && byte <= 57 { number = min(number &* 10 &+ Int(byte - 48), limit) }
        return number
    }

    /// True when `name` is one of SPEC §4's hop-by-hop headers.
    static func isHopByHop<C: Collection<UInt8>>(_ name: C) -> Bool {
        switch name.count {
        case 2: return equalsLowercase(name, "te")
        case 7: return equalsLowercase(name, "trailer") || equalsLowercase(name, "upgrade")
        case 10: return equalsLowercase(name, "connection") || equalsLowercase(name, "keep-alive")
        case 16: return equalsLowercase(name, "proxy-connection")
        case 17: return equalsLowercase(name, "transfer-encoding")
        case 19: return equalsLowercase(name, "proxy-authorization")
        default: return false
        }
    }

    /// Whether an upstream's trailer field goes on to the client: neither hop-by-hop nor a Content-Length. One rule
    /// for the libcurl and the h2c paths.
    static func isForwardableTrailer<C: Collection<UInt8>>(_ name: C) -> Bool {
        !isHopByHop(name) && !equalsLowercase(name, "content-length")
    }

    /// True when `name` is one of SPEC §4's hop-by-hop headers.
    static func isHopByHop(_ name: String) -> Bool {
        var name = name
        return name.withUTF8 { isHopByHop($0) }
    }

    /// ASCII case-insensitive comparison against a lower-case literal.
    static func equalsLowercase<C: Collection<UInt8>>(_ bytes: C, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        return lower.withUTF8Buffer { literal in
            var index = 0
            for byte in bytes {
                let folded = (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
                if folded != literal[index] { return false }
                index += 1
            }
            return true
        }
    }

    /// ASCII case-insensitive comparison of two byte strings.
    static func equalsIgnoringCase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) {
            let fx = (x >= 65 && x <= 90) ? x | 0x20 : x
            let fy = (y >= 65 && y <= 90) ? y | 0x20 : y
            if fx != fy { return false }
        }
        return true
    }

    /// The comma-separated tokens of a header value, trimmed of spaces and tabs.
    static func tokens(_ value: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        value.split(separator: UInt8(ascii: ",")).compactMap { token in
            var token = token
            while let first = token.first, first == 32 || first == 9 { token = token.dropFirst() }
            while let last = token.last, last == 32 || last == 9 { token = token.dropLast() }
            return token.isEmpty ? nil : token
        }
    }
}
