import Atomics
import CCurl
import Glibc

/// Calls to etcd's JSON gateway through libcurl (SPEC §12): blocking, made on the discovery thread only.
///
/// One easy handle per call, so a dead connection never lingers; the watch is a long POST whose body streams one
/// JSON message per line. `stop` aborts a call in progress within about a second (libcurl calls the progress
/// function at least that often), which is how the watch ends at shutdown.
final class EtcdClient {
    let settings: EtcdSettings
    let stop: ManagedAtomic<Bool>
    /// The auth token, when `username` is set; fetched again when etcd says it is no longer valid.
    private var token: String?

    init(settings: EtcdSettings, stop: ManagedAtomic<Bool>) {
        self.settings = settings
        self.stop = stop
    }

    /// A failed call: what to log and show in `/services`.
    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// etcd refused the auth token: authenticate again.
        var authExpired = false
    }

    /// `/v3/kv/range` over the prefix.
    func range(at endpoint: String) throws(Failure) -> (revision: Int64, pairs: [EtcdJSON.KeyValue]) {
        let body =
            "{\"key\":\"\(Base64.encode(self.settings.prefix))\",\"range_end\":\"\(Self.rangeEnd(self.settings.prefix))\"}"
        let text = try self.call(endpoint, "/v3/kv/range", body: body, timeoutMs: 5000, onLine: nil)
        do {
            return try EtcdJSON.range(text)
        } catch {
            throw Failure(description: error.description, authExpired: Self.isAuthError(error.description))
        }
    }

    /// `/v3/watch` over the prefix from `revision`: `onMessage` gets each message; the call returns when the
    /// stream ends (etcd went away, or `onMessage` returned false).
    func watch(at endpoint: String, from revision: Int64, onMessage: @escaping (EtcdJSON.WatchMessage) -> Bool)
        throws(Failure)
    {
        let body =
            "{\"create_request\":{\"key\":\"\(Base64.encode(self.settings.prefix))\","
            + "\"range_end\":\"\(Self.rangeEnd(self.settings.prefix))\",\"start_revision\":\"\(revision)\"}}"
        var failure: Failure?
        _ = try self.call(endpoint, "/v3/watch", body: body, timeoutMs: 0) { line in
            switch Result(catching: { () throws(EtcdJSON.Problem) in try EtcdJSON.watch(line) }) {
            case .success(let message):
                return onMessage(message)
            case .failure(let error):
                failure = Failure(description: error.description, authExpired: Self.isAuthError(error.description))
                return false
            }
        }
        if let failure { throw failure }
    }

    /// The key after every key with this prefix (the prefix with its last byte incremented), base64.
    static func rangeEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return Base64.encode(bytes)
            }
            bytes.removeLast()
        }
        return Base64.encode([0])
    }

    static func isAuthError(_ text: String) -> Bool {
        text.contains("invalid auth token") || text.contains("user name is empty")
    }

    private func authenticate(_ endpoint: String) throws(Failure) {
        guard let username = self.settings.username, let password = self.settings.password else { return }
        self.token = nil
        let body = "{\"name\":\(JSON.quote(username)),\"password\":\(JSON.quote(password))}"
        let text: String
        do {
            text = try self.call(endpoint, "/v3/auth/authenticate", body: body, timeoutMs: 5000, onLine: nil)
            self.token = try EtcdJSON.token(text)
        } catch let error as Failure {
            throw Failure(description: "authentication as '\(username)' failed: \(error.description)")
        } catch {
            throw Failure(description: "authentication as '\(username)' failed: \(error)")
        }
    }

    /// Forgets the token (etcd said it expired): the next call authenticates first.
    func dropToken() { self.token = nil }

    /// One POST. With `onLine`, the answer streams line by line to it (false ends the call) and "" is returned.
    private func call(
        _ endpoint: String, _ path: String, body: String, timeoutMs: Int, onLine: ((String) -> Bool)?
    ) throws(Failure) -> String {
        if self.settings.username != nil && self.token == nil && path != "/v3/auth/authenticate" {
            try self.authenticate(endpoint)
        }
        guard let handle = curl_easy_init() else { throw Failure(description: "curl_easy_init failed") }
        defer { curl_easy_cleanup(handle) }
        let sink = EtcdResponseSink(stop: self.stop, onLine: onLine)
        let opaque = Unmanaged.passUnretained(sink).toOpaque()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Content-Type: application/json")
        if let token = self.token { headers = curl_slist_append(headers, "Authorization: \(token)") }
        defer { curl_slist_free_all(headers) }
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errors in
            _ = ccurl_easy_setopt_string(handle, CURLOPT_URL, endpoint + path)
            _ = ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = ccurl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errors.baseAddress)
            _ = ccurl_easy_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, body)
            _ = ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, headers)
            _ = ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 1000)
            if timeoutMs > 0 { _ = ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMs) }
            // A watch is silent while nothing changes: TCP keep-alive finds a vanished etcd in about 10 s.
            _ = ccurl_easy_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
            _ = ccurl_easy_setopt_long(handle, CURLOPT_TCP_KEEPIDLE, 5)
            _ = ccurl_easy_setopt_long(handle, CURLOPT_TCP_KEEPINTVL, 2)
            if let ca = self.settings.tlsCAFile { _ = ccurl_easy_setopt_string(handle, CURLOPT_CAINFO, ca) }
            _ = ccurl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, etcdWriteCallback)
            _ = ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
            _ = ccurl_easy_setopt_xferinfo(handle, etcdProgressCallback)
            _ = ccurl_easy_setopt_pointer(handle, CURLOPT_XFERINFODATA, opaque)
            return curl_easy_perform(handle)
        }
        let message = String(cString: errorBuffer)
        var status = 0
        _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        if sink.ended || (code == CURLE_ABORTED_BY_CALLBACK && onLine != nil && !self.stop.load(ordering: .relaxed)) {
            return ""  // the line handler ended the watch
        }
        if self.stop.load(ordering: .relaxed) { throw Failure(description: "stopped") }
        guard code == CURLE_OK else {
            let reason = message.isEmpty ? String(cString: curl_easy_strerror(code)) : message
            throw Failure(description: "\(endpoint): \(reason)")
        }
        let text = String(decoding: sink.bytes, as: UTF8.self)
        guard status == 200 else {
            var detail = text.prefix(300)
            while detail.last == "\n" { detail.removeLast() }
            throw Failure(
                description: "\(endpoint)\(path): HTTP \(status) \(detail)", authExpired: Self.isAuthError(text))
        }
        return text
    }
}

/// What a call receives, handed to the C callbacks through their opaque pointer.
final class EtcdResponseSink {
    let stop: ManagedAtomic<Bool>
    let onLine: ((String) -> Bool)?
    var bytes: [UInt8] = []
    /// The line handler asked to end the call.
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
}

private let etcdWriteCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let length = size * count
    guard let buffer, let userdata else { return 0 }
    let sink = Unmanaged<EtcdResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    return sink.take(UnsafeRawBufferPointer(start: buffer, count: length)) ? length : 0
}

private let etcdProgressCallback: ccurl_xferinfo_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 0 }
    let sink = Unmanaged<EtcdResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    return sink.stop.load(ordering: .relaxed) ? 1 : 0
}
