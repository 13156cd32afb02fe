import NIOCore
import NIOHPACK
import NIOHTTP2

/// Turns the HTTP/1.1 response bytes the exchange path writes (head, then a Content-Length or chunked body, or a
/// body to the close) into HTTP/2 frames for one stream (RFC 9113 §8): the status as `:status`, connection-specific
/// fields dropped, chunked bodies unframed, chunked trailers as a trailing HEADERS frame, and END_STREAM on the last
/// frame of the response. Interim (1xx) heads are dropped.
///
/// It lets an HTTP/2 stream go through the very path an HTTP/1.1 request takes (routing, breaker, retries, the
/// curl worker, errors) without a second serializer: the response is framed once, here.
struct H1ResponseParser {
    enum State: Equatable {
        case head
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    private(set) var state = State.head
    /// The request was HEAD: the response has no body whatever its head says.
    var isHeadRequest = false
    private var line: [UInt8] = []
    private var headLines: [[UInt8]] = []
    private var trailers = HPACKHeaders()

    /// Whether a final head went out and the response has not ended yet.
    var isOpen: Bool { self.state != .head && self.state != .done }
    var isDone: Bool { self.state == .done }

    /// The frames `buffer`'s bytes complete.
    mutating func feed(_ buffer: inout ByteBuffer) throws -> [HTTP2Frame.FramePayload] {
        var frames: [HTTP2Frame.FramePayload] = []
        while buffer.readableBytes > 0 {
            switch self.state {
            case .head:
                guard let line = self.readLine(&buffer) else { continue }
                if !line.isEmpty {
                    self.headLines.append(line)
                } else if !self.headLines.isEmpty {
                    if let frame = try self.finishHead() { frames.append(frame) }
                }
            case .body(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                let left = remaining - slice.readableBytes
                self.state = left == 0 ? .done : .body(remaining: left)
                frames.append(.data(.init(data: .byteBuffer(slice), endStream: left == 0)))
            case .chunkSize:
                guard let line = self.readLine(&buffer) else { continue }
                let digits = line.prefix { $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: " ") }
                guard let size = Int(String(decoding: digits, as: UTF8.self), radix: 16), size >= 0 else {
                    throw H1ResponseError.badChunkSize
                }
                self.state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                let left = remaining - slice.readableBytes
                self.state = left == 0 ? .chunkDataEnd : .chunkData(remaining: left)
                frames.append(.data(.init(data: .byteBuffer(slice))))
            case .chunkDataEnd:
                guard let line = self.readLine(&buffer) else { continue }
                guard line.isEmpty else { throw H1ResponseError.badChunkSize }
                self.state = .chunkSize
            case .trailers:
                guard let line = self.readLine(&buffer) else { continue }
                if line.isEmpty {
                    frames.append(self.end())
                } else if let (name, value) = Self.field(line), !Self.isConnectionSpecific(name) {
                    self.trailers.add(name: name, value: value)
                }
            case .untilClose:
                let slice = buffer.readSlice(length: buffer.readableBytes)!
                frames.append(.data(.init(data: .byteBuffer(slice))))
            case .done:
                buffer.moveReaderIndex(to: buffer.writerIndex)  // nothing may follow a complete response
            }
        }
        return frames
    }

    /// The frame that ends a response cut short by the connection's close (a body read to the close), if any.
    mutating func closing() -> HTTP2Frame.FramePayload? {
        guard self.isOpen else { return nil }
        self.state = .done
        return .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))
    }

    private mutating func end() -> HTTP2Frame.FramePayload {
        self.state = .done
        if self.trailers.isEmpty { return .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true)) }
        return .headers(.init(headers: self.trailers, endStream: true))
    }

    private mutating func finishHead() throws -> HTTP2Frame.FramePayload? {
        let lines = self.headLines
        self.headLines = []
        let status = lines[0]
        guard status.count >= 12, status.starts(with: Array("HTTP/".utf8)),
            let code = Int(String(decoding: status[9..<12], as: UTF8.self))
        else { throw H1ResponseError.badStatusLine }
        if code < 200 { return nil }  // interim: HTTP/2 clients get the final head only
        var headers = HPACKHeaders()
        headers.add(name: ":status", value: String(code))
        var contentLength: Int?
        var chunked = false
        for line in lines.dropFirst() {
            guard let (name, value) = Self.field(line) else { throw H1ResponseError.badHeader }
            if name == "transfer-encoding" {
                chunked = chunked || value.lowercased().contains("chunked")
                continue
            }
            if Self.isConnectionSpecific(name) { continue }
            if name == "content-length" { contentLength = Int(value) }
            // A value unique to each response would only churn HPACK's dynamic table: sent literally instead.
            headers.add(name: name, value: value, indexing: name == "x-request-id" ? .nonIndexable : .indexable)
        }
        let bodyless = self.isHeadRequest || code == 204 || code == 304 || contentLength == 0
        if bodyless {
            self.state = .done
        } else if chunked {
            self.state = .chunkSize
        } else if let contentLength {
            self.state = .body(remaining: contentLength)
        } else {
            self.state = .untilClose
        }
        return .headers(.init(headers: headers, endStream: bodyless))
    }

    /// Reads up to and including the next LF; nil when the line is not complete yet (kept for the next bytes).
    private mutating func readLine(_ buffer: inout ByteBuffer) -> [UInt8]? {
        let view = buffer.readableBytesView
        if let newline = view.firstIndex(of: UInt8(ascii: "\n")) {
            let count = newline - view.startIndex + 1
            var line = self.line + buffer.readBytes(length: count)!
            self.line = []
            line.removeLast()
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            return line
        }
        self.line += buffer.readBytes(length: buffer.readableBytes)!
        return nil
    }

    /// `name: value`, the name lower-cased (HTTP/2 field names are).
    static func field(_ line: [UInt8]) -> (String, String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return nil }
        // Bytes, not Characters: trimming and lower-casing by Unicode properties cost more than the rest of the
        // head's conversion.
        let name = String(unsafeUninitializedCapacity: colon) { out in
            for index in 0..<colon {
                let byte = line[index]
                out[index] = byte >= 65 && byte <= 90 ? byte | 0x20 : byte
            }
            return colon
        }
        var start = colon + 1
        var end = line.count
        while start < end && (line[start] == 32 || line[start] == 9) { start += 1 }
        while end > start && (line[end - 1] == 32 || line[end - 1] == 9 || line[end - 1] == 13) { end -= 1 }
        return (name, String(decoding: line[start..<end], as: UTF8.self))
    }

    /// Fields HTTP/2 forbids (RFC 9113 §8.2.2).
    static func isConnectionSpecific(_ name: String) -> Bool {
        switch name {
        case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade": return true
        default: return false
        }
    }
}

enum H1ResponseError: Error {
    case badStatusLine
    case badHeader
    case badChunkSize
}
