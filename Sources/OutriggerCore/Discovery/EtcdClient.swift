import Atomics

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
        var request = BlockingCurl(url: endpoint + path, body: Array(body.utf8), stop: self.stop)
        request.headers = ["Content-Type: application/json"] + (self.token.map { ["Authorization: \($0)"] } ?? [])
        request.timeoutMs = timeoutMs
        request.caFile = self.settings.tlsCAFile
        let response: BlockingCurl.Response
        do {
            response = try request.perform(onLine: onLine)
        } catch {
            throw Failure(description: error.stopped ? "stopped" : "\(endpoint): \(error.description)")
        }
        if response.endedByHandler { return "" }
        let text = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200 else {
            var detail = text.prefix(300)
            while detail.last == "\n" { detail.removeLast() }
            throw Failure(
                description: "\(endpoint)\(path): HTTP \(response.status) \(detail)",
                authExpired: Self.isAuthError(text))
        }
        if onLine != nil && !self.stop.load(ordering: .relaxed) {
            return ""  // the stream ended
        }
        return text
    }
}
