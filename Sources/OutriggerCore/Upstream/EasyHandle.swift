import CCurl

/// A libcurl easy handle with its error buffer, pooled by a worker and reused across transfers.
final class EasyHandle {
    let handle: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    init?() {
        guard let handle = curl_easy_init() else { return nil }
        self.handle = handle
        self.errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        self.errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    /// The specific message of the last failure, or "" when curl left none.
    var errorMessage: String { String(cString: self.errorBuffer) }

    /// Clears every option so the next transfer starts clean (connections stay in the multi's cache).
    func reset() {
        curl_easy_reset(self.handle)
        self.errorBuffer[0] = 0
    }

    deinit {
        curl_easy_cleanup(self.handle)
        self.errorBuffer.deallocate()
    }
}
