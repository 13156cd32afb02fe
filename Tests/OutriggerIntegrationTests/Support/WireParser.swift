/// A small, strict HTTP/1.1 message parser for tests: it reads exactly what crossed the wire.
struct WireMessage: Sendable {
    var startLine: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// The head exactly as received, start line to the blank line.
    var rawHead: String
    /// The whole message exactly as received.
    var raw: [UInt8]

    var bodyText: String { String(decoding: self.body, as: UTF8.self) }

    /// The status code of a response.
    var status: Int { Int(self.startLine.split(separator: " ")[1]) ?? 0 }

    /// The reason phrase of a response.
    var reason: String {
        let parts = self.startLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count > 2 ? String(parts[2]) : ""
    }

    func values(_ name: String) -> [String] {
        self.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    func value(_ name: String) -> String? { self.values(name).first }

    var headerNames: [String] { self.headers.map { $0.name.lowercased() } }
}

enum WireParser {
    enum Framing {
        case request
        /// A response; `noBody` for replies to HEAD.
        case response(noBody: Bool)
    }

    /// Parses one message from `bytes[offset...]`. Returns nil when more bytes are needed (or, at EOF, when the
    /// message is incomplete). `eof` completes close-delimited response bodies.
    static func parse(_ bytes: [UInt8], from offset: Int, framing: Framing, eof: Bool) -> (WireMessage, Int)? {
        guard let headEnd = find(bytes, [13, 10, 13, 10], from: offset) else { return nil }
        let headText = String(decoding: bytes[offset..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let startLine = lines.removeFirst()
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
            headers.append((name, value))
        }
        let bodyStart = headEnd + 4
        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name }?.1
        }
        var noBody = false
        var closeDelimited = false
        switch framing {
        case .request:
            noBody = header("content-length") == nil && header("transfer-encoding") == nil
        case .response(let head):
            let code = Int(startLine.split(separator: " ").dropFirst().first ?? "") ?? 0
            noBody = head || code == 204 || code == 304 || (code >= 100 && code < 200)
            closeDelimited = !noBody && header("content-length") == nil && header("transfer-encoding") == nil
        }
        var body: [UInt8] = []
        var end = bodyStart
        if noBody {
            end = bodyStart
        } else if let te = header("transfer-encoding"), te.lowercased().contains("chunked") {
            var cursor = bodyStart
            while true {
                guard let lineEnd = find(bytes, [13, 10], from: cursor) else { return nil }
                let sizeText = String(decoding: bytes[cursor..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                guard let size = Int(sizeText.trimmingCharacters(in: [" "]), radix: 16) else { return nil }
                cursor = lineEnd + 2
                if size == 0 {
                    // Trailers until the blank line.
                    guard let trailerEnd = find(bytes, [13, 10], from: cursor) else { return nil }
                    if trailerEnd == cursor {
                        end = cursor + 2
                        break
                    }
                    guard let fullEnd = find(bytes, [13, 10, 13, 10], from: cursor) else { return nil }
                    end = fullEnd + 4
                    break
                }
                guard bytes.count >= cursor + size + 2 else { return nil }
                body += bytes[cursor..<(cursor + size)]
                cursor += size + 2
            }
        } else if let lengthText = header("content-length"), let length = Int(lengthText) {
            guard bytes.count >= bodyStart + length else { return nil }
            body = Array(bytes[bodyStart..<(bodyStart + length)])
            end = bodyStart + length
        } else if closeDelimited {
            guard eof else { return nil }
            body = Array(bytes[bodyStart...])
            end = bytes.count
        }
        let message = WireMessage(
            startLine: startLine, headers: headers, body: body, rawHead: headText + "\r\n\r\n",
            raw: Array(bytes[offset..<end]))
        return (message, end)
    }

    static func find(_ bytes: [UInt8], _ needle: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        var index = start
        let last = bytes.count - needle.count
        while index <= last {
            if bytes[index] == needle[0] {
                var match = true
                for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                    match = false
                    break
                }
                if match { return index }
            }
            index += 1
        }
        return nil
    }
}

/// FNV-1a over bytes: a cheap checksum to compare what left one side with what reached the other.
struct Checksum: Sendable, Equatable {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    private(set) var count = 0

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var hash = self.value
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        self.value = hash
        self.count += bytes.count
    }
}

/// Deterministic body bytes: position-dependent so reordering or loss changes the checksum.
enum Pattern {
    static func chunk(offset: Int, size: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        for index in 0..<size {
            let position = offset + index
            out[index] = UInt8(truncatingIfNeeded: (position &* 31) ^ (position >> 11))
        }
        return out
    }
}
