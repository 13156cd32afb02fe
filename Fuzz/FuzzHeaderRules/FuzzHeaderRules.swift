import CCurl
import NIOHTTP1

@testable import OutriggerCore

/// One fuzz input: arbitrary bytes as request header lines (`name: value`, one per LF) through the SPEC §4
/// request header rules into a curl header list. No crash; no hop-by-hop header survives; exactly one
/// `x-request-id` goes upstream.
public func fuzzHeaderRules(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    var headers = HTTPHeaders()
    for line in text.split(separator: "\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let name = String(line[..<colon])
        guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 32 && $0 < 127 && $0 != 58 }) else { continue }
        headers.add(name: name, value: String(line[line.index(after: colon)...]).trimmingSpaces())
    }
    var random = SystemRandomNumberGenerator()
    let propagator = TracePropagator(formats: [.w3c, .b3], sampleRatio: 1)
    let context = propagator.context(for: headers, using: &random)
    let list = RequestHeaderRules.curlHeaders(
        .init(headers: headers, clientAddress: "127.0.0.1", requestID: "fuzz-id", trace: (propagator, context)))
    let sent = CurlHeaderList.lines(of: list)
    CurlHeaderList.free(list)
    let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding",
        "upgrade",
    ]
    var requestIDs = 0
    for line in sent {
        let name = line.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        precondition(!hopByHop.contains(name), "hop-by-hop header went upstream: \(line)")
        if name == "x-request-id" { requestIDs += 1 }
    }
    precondition(requestIDs == 1, "\(requestIDs) x-request-id headers went upstream")
    return 0
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice = slice.dropFirst() }
        while slice.last == " " || slice.last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
