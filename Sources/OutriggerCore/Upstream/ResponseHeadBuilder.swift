import NIOCore

/// Turns the header lines libcurl reports into the response head Outrigger writes to its client (SPEC §4).
///
/// Status code, reason phrase and headers pass verbatim and in order; hop-by-hop headers (and those the upstream's
/// `Connection` names) are dropped; interim `1xx` blocks are swallowed so they never reach the client as final;
/// framing is chosen for the client's connection. Works on bytes only: this runs on the curl thread per response.
struct ResponseHeadBuilder {
    /// How the body goes to the client once the head is out.
    enum BodyFraming: Equatable {
        /// No body may follow (HEAD, 204, 304).
        case none
        /// The upstream's Content-Length passes through; bytes go verbatim.
        case contentLength
        /// Re-chunked for an HTTP/1.1 client because the length is unknown.
        case chunked
        /// Unknown length to an HTTP/1.0 client: the end is marked by closing the connection.
        case closeDelimited
    }

    /// The finished head: bytes for the client, body framing, and whether the connection must close afterwards.
    struct Head {
        var bytes: ByteBuffer
        var status: Int
        var framing: BodyFraming
        var closeConnection: Bool
        /// The head's `grpc-status` (a gRPC trailers-only answer), if any.
        var grpcStatus: Int? = nil
    }

    /// How the client's connection frames the response; set once per transfer.
    var framing = UpstreamRequest.ClientFraming(isHead: false, clientIsHTTP11: true, keepAlive: true, requestID: "")
    /// Where the head's buffer comes from.
    var allocator = ByteBufferAllocator()
    private var status = 0
    private var reason: [UInt8] = []
    private var storage: [UInt8] = []
    private var fields: [(nameStart: Int, nameEnd: Int, valueStart: Int, valueEnd: Int)] = []

    /// An empty builder; its buffers grow on first use and are kept when the worker pools it.
    init() {}

    /// Clears the builder for reuse, keeping its buffers' capacity.
    mutating func recycle() {
        self.reset()
    }

    /// Feeds one header line as curl delivers it (CRLF included). Returns a head when a final block is complete.
    mutating func feed(
        line: UnsafeRawBufferPointer, framing: UpstreamRequest.ClientFraming, allocator: ByteBufferAllocator
    ) -> Result<Head, HeadError>? {
        self.framing = framing
        self.allocator = allocator
        return self.feed(line: line)
    }

    /// Feeds one header line using the framing and allocator already set.
    mutating func feed(line: UnsafeRawBufferPointer) -> Result<Head, HeadError>? {
        var end = line.count
        while end > 0 && (line[end - 1] == UInt8(ascii: "\n") || line[end - 1] == UInt8(ascii: "\r")) { end -= 1 }
        if end == 0 {
            // Blank line: end of a header block.
            guard self.status != 0 else { return .failure(.noStatusLine) }
            if self.status < 200 {
                // 100 Continue, 103 Early Hints: interim, never passed as the final response.
                self.reset()
                return nil
            }
            return .success(self.build())
        }
        if end >= 5 && line[0] == UInt8(ascii: "H") && line[1] == UInt8(ascii: "T") && line[2] == UInt8(ascii: "T")
            && line[3] == UInt8(ascii: "P") && line[4] == UInt8(ascii: "/")
        {
            self.reset()
            return self.parseStatusLine(line, end: end)
        }
        guard self.status != 0 else { return .failure(.noStatusLine) }
        if line[0] == UInt8(ascii: " ") || line[0] == UInt8(ascii: "\t") {
            // obs-fold (RFC 9112 §5.2): join onto the previous field with one space.
            guard !self.fields.isEmpty else { return .failure(.malformedHeader) }
            var start = 0
            while start < end && (line[start] == UInt8(ascii: " ") || line[start] == UInt8(ascii: "\t")) { start += 1 }
            self.storage.append(UInt8(ascii: " "))
            self.storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[start..<end]))
            self.fields[self.fields.count - 1].valueEnd = self.storage.count
            return nil
        }
        guard let colon = (0..<end).first(where: { line[$0] == UInt8(ascii: ":") }), colon > 0 else {
            return .failure(.malformedHeader)
        }
        var valueStart = colon + 1
        while valueStart < end && (line[valueStart] == UInt8(ascii: " ") || line[valueStart] == UInt8(ascii: "\t")) {
            valueStart += 1
        }
        var valueEnd = end
        while valueEnd > valueStart
            && (line[valueEnd - 1] == UInt8(ascii: " ") || line[valueEnd - 1] == UInt8(ascii: "\t"))
        {
            valueEnd -= 1
        }
        let base = self.storage.count
        self.storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[0..<colon]))
        let nameEnd = self.storage.count
        self.storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd]))
        self.fields.append((base, nameEnd, nameEnd, self.storage.count))
        return nil
    }

    private mutating func parseStatusLine(_ line: UnsafeRawBufferPointer, end: Int) -> Result<Head, HeadError>? {
        // HTTP/1.1 SP 3DIGIT SP reason
        guard let space = (0..<end).first(where: { line[$0] == UInt8(ascii: " ") }), space + 4 <= end else {
            return .failure(.badStatusLine)
        }
        var code = 0
        for index in (space + 1)...(space + 3) {
            let byte = line[index]
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return .failure(.badStatusLine) }
            code = code * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard code >= 100 && code <= 999 else { return .failure(.badStatusLine) }
        self.status = code
        if space + 4 < end {
            guard line[space + 4] == UInt8(ascii: " ") else { return .failure(.badStatusLine) }
            self.reason = Array(UnsafeRawBufferPointer(rebasing: line[(space + 5)..<end]))
        }
        return nil
    }

    private mutating func reset() {
        self.status = 0
        self.reason.removeAll(keepingCapacity: true)
        self.storage.removeAll(keepingCapacity: true)
        self.fields.removeAll(keepingCapacity: true)
    }

    private func nameIs(_ field: (nameStart: Int, nameEnd: Int, valueStart: Int, valueEnd: Int), _ lower: StaticString)
        -> Bool
    {
        HeaderNames.equalsLowercase(self.storage[field.nameStart..<field.nameEnd], lower)
    }

    private func build() -> Head {
        let client = self.framing
        // Names listed in the upstream's Connection header are hop-by-hop too (RFC 9110 §7.6.1).
        var connectionTokens: [ArraySlice<UInt8>] = []
        var hasContentLength = false
        var hasTransferEncoding = false
        var contentLength = 0
        var hasRequestID = false
        var grpcStatus: Int?
        for field in self.fields {
            if self.nameIs(field, "connection") {
                connectionTokens += HeaderNames.tokens(self.storage[field.valueStart..<field.valueEnd])
            } else if self.nameIs(field, "content-length") {
                hasContentLength = true
                contentLength = HeaderNames.decimal(self.storage[field.valueStart..<field.valueEnd], limit: 1 << 40)
            } else if self.nameIs(field, "x-request-id") {
                hasRequestID = true
            } else if self.nameIs(field, "transfer-encoding") {
                hasTransferEncoding = true
            } else if self.nameIs(field, "grpc-status") {
                grpcStatus = HeaderNames.decimal(self.storage[field.valueStart..<field.valueEnd], limit: 1 << 20)
            }
        }
        // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length, which must then not be passed on.
        let dropContentLength = hasTransferEncoding && hasContentLength
        if dropContentLength { hasContentLength = false }
        // A gRPC head that already carries grpc-status is a trailers-only answer: no body follows, and it stays one
        // HEADERS frame with END_STREAM for an HTTP/2 client (the explicit zero length says so).
        let trailersOnly = grpcStatus != nil && !hasContentLength && !hasTransferEncoding
        let bodyless = client.isHead || self.status == 204 || self.status == 304 || trailersOnly
        let framing: BodyFraming
        if bodyless {
            framing = .none
        } else if hasContentLength {
            framing = .contentLength
        } else if client.clientIsHTTP11 {
            framing = .chunked
        } else {
            framing = .closeDelimited
        }
        let close = !client.keepAlive || framing == .closeDelimited

        // The head and the first body bytes share one buffer: it is handed to the event loop as is.
        let bodyHint: Int
        switch framing {
        case .none: bodyHint = 0
        case .contentLength: bodyHint = min(contentLength, 64 * 1024)
        case .chunked, .closeDelimited: bodyHint = 16 * 1024 + 16
        }
        let headSize =
            128 + self.storage.count + self.fields.count * 4 + self.reason.count + client.requestID.utf8.count
            + (client.fault?.utf8.count ?? 0)
        var buffer = self.allocator.buffer(capacity: headSize + bodyHint)
        buffer.writeStaticString("HTTP/1.1 ")
        buffer.writeInteger(UInt8(truncatingIfNeeded: 48 + self.status / 100))
        buffer.writeInteger(UInt8(truncatingIfNeeded: 48 + (self.status / 10) % 10))
        buffer.writeInteger(UInt8(truncatingIfNeeded: 48 + self.status % 10))
        buffer.writeInteger(UInt8(ascii: " "))
        buffer.writeBytes(self.reason)
        buffer.writeStaticString("\r\n")
        for field in self.fields {
            let name = self.storage[field.nameStart..<field.nameEnd]
            if HeaderNames.isHopByHop(name) { continue }
            if !connectionTokens.isEmpty
                && connectionTokens.contains(where: { HeaderNames.equalsIgnoringCase($0, name) })
            {
                continue
            }
            if dropContentLength && HeaderNames.equalsLowercase(name, "content-length") { continue }
            buffer.writeBytes(name)
            buffer.writeStaticString(": ")
            buffer.writeBytes(self.storage[field.valueStart..<field.valueEnd])
            buffer.writeStaticString("\r\n")
        }
        if !hasRequestID {
            buffer.writeStaticString("x-request-id: ")
            buffer.writeString(client.requestID)
            buffer.writeStaticString("\r\n")
        }
        if let fault = client.fault {
            buffer.writeStaticString("x-outrigger-fault: ")
            buffer.writeString(fault)
            buffer.writeStaticString("\r\n")
        }
        if framing == .chunked { buffer.writeStaticString("transfer-encoding: chunked\r\n") }
        if trailersOnly { buffer.writeStaticString("content-length: 0\r\n") }
        if close {
            buffer.writeStaticString("connection: close\r\n")
        } else if !client.clientIsHTTP11 {
            buffer.writeStaticString("connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
        return Head(
            bytes: buffer, status: self.status, framing: framing, closeConnection: close, grpcStatus: grpcStatus)
    }
}

/// Why an upstream response head could not be used.
enum HeadError: Error {
    case noStatusLine
    case badStatusLine
    case malformedHeader
}
