import Atomics
import CCurl

/// One blocking HTTP POST through a libcurl easy handle, for the daemon's own background calls (etcd discovery,
/// span export) made on threads of their own, never on an event loop or the curl workers.
///
/// With a nil body the call is a GET (`outrigger status` reading the admin API); `unixSocket` connects to a unix
/// socket instead of the URL's host.
///
/// `stop` aborts a call in progress within about a second (libcurl calls the progress function at least that
/// often). With `onLine`, the answer streams to it line by line (false ends the call).
struct BlockingCurl {
    struct Response {
        var status: Int
        var body: [UInt8]
        /// Header lines, lower-cased names.
        var headers: [(name: String, value: String)]
        /// `onLine` ended the call.
        var endedByHandler: Bool

        func header(_ name: String) -> String? { self.headers.first { $0.name == name }?.value }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        var stopped = false
    }

    var url: String
    var body: [UInt8]?
    var unixSocket: String?
    var headers: [String] = []
    var timeoutMs = 0
    var connectTimeoutMs = 1000
    var caFile: String?
    var stop: ManagedAtomic<Bool>

    func perform(onLine: ((String) -> Bool)? = nil) throws(Failure) -> Response {
        guard let handle = curl_easy_init() else { throw Failure(description: "curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        let sink = BlockingCurlSink(stop: self.stop, onLine: onLine)
        let opaque = Unmanaged.passUnretained(sink).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var list: UnsafeMutablePointer<curl_slist>?
        for header in self.headers { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errors in
            (self.body ?? []).withUnsafeBufferPointer { body in
                _ = ccurl_easy_setopt_string(handle, CURLOPT_URL, self.url)
                _ = ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = ccurl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
                if self.body != nil {
                    _ = ccurl_easy_setopt_long(handle, CURLOPT_POST, 1)
                    _ = ccurl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
                    _ = ccurl_easy_setopt_pointer(handle, CURLOPT_POSTFIELDS, body.baseAddress)
                }
                if let path = self.unixSocket { _ = ccurl_easy_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, path) }
                _ = ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                _ = ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, self.connectTimeoutMs)
                if self.timeoutMs > 0 { _ = ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, self.timeoutMs) }
                // A long call (a watch) is silent while nothing changes: TCP keep-alive finds a vanished peer.
                _ = ccurl_easy_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
                _ = ccurl_easy_setopt_long(handle, CURLOPT_TCP_KEEPIDLE, 5)
                _ = ccurl_easy_setopt_long(handle, CURLOPT_TCP_KEEPINTVL, 2)
                if let ca = self.caFile { _ = ccurl_easy_setopt_string(handle, CURLOPT_CAINFO, ca) }
                _ = ccurl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, blockingWriteCallback)
                _ = ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
                _ = ccurl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, blockingHeaderCallback)
                _ = ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque)
                _ = ccurl_easy_setopt_xferinfo(handle, blockingProgressCallback)
                _ = ccurl_easy_setopt_pointer(handle, CURLOPT_XFERINFODATA, opaque)
                return curl_easy_perform(handle)
            }
        }
        var status = 0
        _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        let response = Response(status: status, body: sink.bytes, headers: sink.headers, endedByHandler: sink.ended)
        if sink.ended { return response }
        if self.stop.load(ordering: .relaxed) { throw Failure(description: "stopped", stopped: true) }
        guard code == CURLE_OK else {
            let message = String(
                decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw Failure(description: message.isEmpty ? String(cString: curl_easy_strerror(code)) : message)
        }
        return response
    }
}

/// What a call receives, handed to the C callbacks through their opaque pointer.
final class BlockingCurlSink {
    let stop: ManagedAtomic<Bool>
    let onLine: ((String) -> Bool)?
    var bytes: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var ended = false

    init(stop: ManagedAtomic<Bool>, onLine: ((String) -> Bool)?) {
        self.stop = stop
        self.onLine = onLine
    }

    func take(_ data: UnsafeRawBufferPointer) -> Bool {
        self.bytes.append(contentsOf: data)
        guard let onLine = self.onLine else { return self.bytes.count < 64 << 20 }
        while let newline = self.bytes.firstIndex(of: 10) {
            let line = String(decoding: self.bytes[..<newline], as: UTF8.self)
            self.bytes.removeSubrange(...newline)
            if line.isEmpty { continue }
            if !onLine(line) {
                self.ended = true
                return false
            }
        }
        return self.bytes.count < 64 << 20  // one message is never this large
    }

    func header(_ line: UnsafeRawBufferPointer) {
        let text = String(decoding: line, as: UTF8.self)
        if text.hasPrefix("HTTP/") {
            self.headers = []  // a new block (after 100 Continue, or a redirect)
            return
        }
        guard let colon = text.firstIndex(of: ":") else { return }
        self.headers.append(
            (text[..<colon].lowercased(), String(text[text.index(after: colon)...]).trimmingWhitespace))
    }
}

private let blockingWriteCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let length = size * count
    guard let buffer, let userdata else { return 0 }
    let sink = Unmanaged<BlockingCurlSink>.fromOpaque(userdata).takeUnretainedValue()
    return sink.take(UnsafeRawBufferPointer(start: buffer, count: length)) ? length : 0
}

private let blockingHeaderCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let length = size * count
    guard let buffer, let userdata else { return 0 }
    Unmanaged<BlockingCurlSink>.fromOpaque(userdata).takeUnretainedValue().header(
        UnsafeRawBufferPointer(start: buffer, count: length))
    return length
}

private let blockingProgressCallback: ccurl_xferinfo_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 0 }
    return Unmanaged<BlockingCurlSink>.fromOpaque(userdata).takeUnretainedValue().stop.load(ordering: .relaxed) ? 1 : 0
}
