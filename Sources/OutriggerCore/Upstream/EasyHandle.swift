import CCurl

/// A libcurl easy handle with its error buffer, pooled by a worker and reused across transfers without
/// `curl_easy_reset`: the options every transfer shares are set once here, and `prepare` sets every option that
/// differs between transfers, each time, so nothing of one transfer leaks into the next.
final class EasyHandle {
    let handle: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>
    /// The CA bundle curl uses when the endpoint names none, read once: restoring it needs its path.
    private let defaultCAFile: String?
    /// The CA bundle last set, so it is set again only when it changes.
    private var caFile: String?
    /// The client certificate, key and connect-to entry last set (same reason).
    private var certFile: String?
    private var keyFile: String?
    private var connectTo: String?
    private var httpVersion = Int(CURL_HTTP_VERSION_1_1)
    private var connectToList: UnsafeMutablePointer<curl_slist>?

    /// A handle whose constant options are set; `worker` receives the socket-open callback.
    init?(worker: UnsafeMutableRawPointer) {
        guard let handle = curl_easy_init() else { return nil }
        self.handle = handle
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        var pointer: UnsafeMutableRawPointer?
        _ = ccurl_easy_getinfo_pointer(handle, CURLINFO_CAINFO, &pointer)
        self.defaultCAFile = pointer.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
        self.caFile = self.defaultCAFile
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, self.errorBuffer)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        // One receive buffer of 64 KiB (curl's default is 16 KiB): a 16 KiB body plus its head in one read.
        _ = ccurl_easy_setopt_long(handle, CURLOPT_BUFFERSIZE, 64 * 1024)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        // HTTP/2 transfers wait for a connection that can take one more stream rather than open their own.
        _ = ccurl_easy_setopt_long(handle, CURLOPT_PIPEWAIT, 1)
        // Never decode content-encoding, never follow redirects (SPEC §4).
        _ = ccurl_easy_setopt_long(handle, CURLOPT_HTTP_CONTENT_DECODING, 0)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        _ = ccurl_easy_setopt_callback(handle, CURLOPT_READFUNCTION, transferReadCallback)
        _ = ccurl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, transferHeaderCallback)
        _ = ccurl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, transferWriteCallback)
        _ = ccurl_easy_setopt_opensocketfunction(handle, workerOpenSocketCallback)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_OPENSOCKETDATA, worker)
    }

    /// The specific message of the last failure, or "" when curl left none.
    var errorMessage: String { String(cString: self.errorBuffer) }

    /// Sets every per-transfer option; `transfer` is the retained pointer the callbacks receive.
    func prepare(_ request: UpstreamRequest, transfer: UnsafeMutableRawPointer) {
        let handle = self.handle
        self.errorBuffer[0] = 0
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_PRIVATE, transfer)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_READDATA, transfer)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, transfer)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, transfer)
        _ = ccurl_easy_setopt_string(handle, CURLOPT_URL, request.baseURL)
        _ = ccurl_easy_setopt_string(handle, CURLOPT_REQUEST_TARGET, request.target)
        _ = ccurl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        _ = ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, request.headers)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_NOBODY, request.framing.isHead ? 1 : 0)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_CONNECT_ONLY, request.connectOnly ? 1 : 0)
        if request.httpVersion != self.httpVersion {
            _ = ccurl_easy_setopt_long(handle, CURLOPT_HTTP_VERSION, request.httpVersion)
            // See `Curl.reusesPriorKnowledgeConnections`: on older libcurl an h2c call neither reuses nor leaves a
            // connection to reuse.
            let isolate =
                request.httpVersion == Int(CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE) && !Curl.reusesPriorKnowledgeConnections
            _ = ccurl_easy_setopt_long(handle, CURLOPT_FRESH_CONNECT, isolate ? 1 : 0)
            _ = ccurl_easy_setopt_long(handle, CURLOPT_FORBID_REUSE, isolate ? 1 : 0)
            _ = ccurl_easy_setopt_long(handle, CURLOPT_PIPEWAIT, isolate ? 0 : 1)
            self.httpVersion = request.httpVersion
        }
        switch request.body {
        case .none:
            _ = ccurl_easy_setopt_long(handle, CURLOPT_UPLOAD, 0)
            _ = ccurl_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, -1)
        case .length(let length):
            _ = ccurl_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
            _ = ccurl_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
        case .chunked:
            _ = ccurl_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
            _ = ccurl_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, -1)
        }
        // CUSTOMREQUEST names the method; UPLOAD alone would make curl say PUT, NOBODY alone HEAD.
        _ = ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeoutMs))
        _ = ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(max(0, request.requestTimeoutMs)))
        _ = ccurl_easy_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, request.unixSocketPath)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, request.tlsVerify ? 1 : 0)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, request.tlsVerify ? 2 : 0)
        let caFile = request.tlsCAFile ?? self.defaultCAFile
        if caFile != self.caFile {
            _ = ccurl_easy_setopt_string(handle, CURLOPT_CAINFO, caFile)
            self.caFile = caFile
        }
        if request.tlsCertFile != self.certFile {
            _ = ccurl_easy_setopt_string(handle, CURLOPT_SSLCERT, request.tlsCertFile)
            self.certFile = request.tlsCertFile
        }
        if request.tlsKeyFile != self.keyFile {
            _ = ccurl_easy_setopt_string(handle, CURLOPT_SSLKEY, request.tlsKeyFile)
            self.keyFile = request.tlsKeyFile
        }
        if request.connectTo != self.connectTo {
            // curl keeps the list's pointer: the old one is freed only after the new one is set.
            let list =
                request.connectTo.map { entry -> UnsafeMutablePointer<curl_slist>? in
                    var builder = CurlHeaderList(capacity: entry.utf8.count + 1)
                    builder.append(line: entry)
                    return builder.build()
                } ?? nil
            _ = ccurl_easy_setopt_slist(handle, CURLOPT_CONNECT_TO, list)
            CurlHeaderList.free(self.connectToList)
            self.connectToList = list
            self.connectTo = request.connectTo
        }
    }

    /// Drops the per-transfer references the handle holds (header list, callback pointer) once it is done.
    func finish() {
        _ = ccurl_easy_setopt_slist(self.handle, CURLOPT_HTTPHEADER, nil)
        _ = ccurl_easy_setopt_pointer(self.handle, CURLOPT_PRIVATE, nil)
    }

    deinit {
        curl_easy_cleanup(self.handle)
        CurlHeaderList.free(self.connectToList)
        self.errorBuffer.deallocate()
    }
}
