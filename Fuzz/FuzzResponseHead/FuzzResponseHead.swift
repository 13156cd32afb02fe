import NIOCore

@testable import OutriggerCore

/// One fuzz input: arbitrary bytes as the upstream response head lines libcurl hands to the header callback,
/// one line per LF. The builder must produce a head or an error, never crash; a head it builds must start with a
/// status line and end with a blank line.
public func fuzzResponseHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let framing = UpstreamRequest.ClientFraming(
        isHead: size % 2 == 0, clientIsHTTP11: size % 3 != 0, keepAlive: size % 5 != 0, requestID: "fuzz")
    var builder = ResponseHeadBuilder()
    var start = 0
    var index = 0
    while index <= bytes.count {
        if index == bytes.count || bytes[index] == 10 {
            let end = min(index + 1, bytes.count)
            let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            switch builder.feed(line: line, framing: framing, allocator: ByteBufferAllocator()) {
            case .none:
                break
            case .failure:
                return 0
            case .success(let head):
                let text = String(decoding: head.bytes.readableBytesView, as: UTF8.self)
                precondition(text.hasPrefix("HTTP/1.1 "), "head without a status line")
                precondition(text.hasSuffix("\r\n\r\n"), "head without its blank line")
                precondition((100...999).contains(head.status))
                builder.recycle()
            }
            start = end
        }
        index += 1
    }
    return 0
}
