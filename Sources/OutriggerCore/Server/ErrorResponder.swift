import NIOCore

/// Renders the responses Outrigger makes itself (SPEC §8): the status of the code, a JSON body with
/// `error`, `message`, `service` and `request_id`, and the `x-outrigger-error` header.
enum ErrorResponder {
    /// The JSON body for an error.
    static func body(for error: OutriggerError, requestID: String?) -> String {
        var json = "{\"error\":\"\(error.code.rawValue)\",\"message\":\(JSON.quote(error.message))"
        json += ",\"service\":" + (error.service.map(JSON.quote) ?? "null")
        json += ",\"request_id\":" + (requestID.map(JSON.quote) ?? "null")
        json += "}\n"
        return json
    }

    /// A gRPC client's answer (SPEC §10): trailers-only, HTTP 200 with `grpc-status`, `grpc-message`
    /// (percent-encoded as gRPC requires) and `x-outrigger-error`, no body.
    static func grpcResponse(
        for error: OutriggerError, requestID: String?, close: Bool, fault: String? = nil,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 256 + error.message.utf8.count)
        buffer.writeStaticString("HTTP/1.1 200 OK\r\ncontent-type: application/grpc\r\n")
        buffer.writeString("grpc-status: \(error.code.grpcStatus)\r\n")
        buffer.writeString("grpc-message: \(Self.percentEncoded(error.message))\r\n")
        buffer.writeString("x-outrigger-error: \(error.code.rawValue)\r\n")
        if let requestID { buffer.writeString("x-request-id: \(requestID)\r\n") }
        if let fault { buffer.writeString("x-outrigger-fault: \(fault)\r\n") }
        buffer.writeStaticString("content-length: 0\r\n")
        if close { buffer.writeStaticString("connection: close\r\n") }
        buffer.writeStaticString("\r\n")
        return buffer
    }

    /// gRPC's percent-encoding of grpc-message: printable ASCII but `%` as is, every other byte as %XX.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != 0x25 {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// The whole response, ready to write.
    static func response(
        for error: OutriggerError, requestID: String?, close: Bool, isHead: Bool = false,
        extraHeaders: [(String, String)] = [], allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let status = error.code.status
        let body = self.body(for: error, requestID: requestID)
        var buffer = allocator.buffer(capacity: 256 + body.utf8.count)
        buffer.writeString("HTTP/1.1 \(status) \(error.code.reason)\r\n")
        buffer.writeStaticString("content-type: application/json\r\n")
        buffer.writeString("content-length: \(body.utf8.count)\r\n")
        buffer.writeString("x-outrigger-error: \(error.code.rawValue)\r\n")
        if let requestID { buffer.writeString("x-request-id: \(requestID)\r\n") }
        for (name, value) in extraHeaders { buffer.writeString("\(name): \(value)\r\n") }
        if close { buffer.writeStaticString("connection: close\r\n") }
        buffer.writeStaticString("\r\n")
        if !isHead { buffer.writeString(body) }
        return buffer
    }
}

/// Minimal JSON string quoting for hand-rendered bodies and log lines.
enum JSON {
    static func quote(_ text: String) -> String {
        // Fast path: nothing to escape (ids, methods, most paths).
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            return "\"" + text + "\""
        }
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
        return out
    }
}
