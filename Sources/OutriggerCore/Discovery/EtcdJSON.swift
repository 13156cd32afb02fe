/// What etcd's JSON gateway answers (SPEC §12), read with the YAML composer (JSON is YAML's flow style): keys and
/// values are base64, 64-bit numbers are strings.
enum EtcdJSON {
    /// One key and its value.
    struct KeyValue: Equatable {
        var key: String
        var value: [UInt8]
    }

    /// A change seen by a watch.
    enum Event: Equatable {
        case put(KeyValue)
        case delete(key: String)
    }

    /// What one line of a watch stream says.
    enum WatchMessage: Equatable {
        /// The watch is set up, at this revision.
        case created(revision: Int64)
        /// Changes, up to this revision.
        case events(revision: Int64, [Event])
        /// The requested revision was compacted away: list again.
        case compacted(revision: Int64)
        /// The watch ended for another reason.
        case canceled(reason: String)
        /// A progress notification or anything else without changes.
        case progress(revision: Int64)
    }

    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    /// A `/v3/kv/range` answer: the store's revision and the pairs.
    static func range(_ text: String) throws(Problem) -> (revision: Int64, pairs: [KeyValue]) {
        let root = try Self.object(text)
        if let error = Self.gatewayError(root) { throw Problem(description: error) }
        let revision = Self.int(root.field("header").field("revision"))
        var pairs: [KeyValue] = []
        for item in root.field("kvs")?.sequence ?? [] {
            pairs.append(try Self.keyValue(item))
        }
        return (revision, pairs)
    }

    /// One line of a `/v3/watch` stream.
    static func watch(_ text: String) throws(Problem) -> WatchMessage {
        let root = try Self.object(text)
        if let error = Self.gatewayError(root) { throw Problem(description: error) }
        guard let result = root.field("result") else { throw Problem(description: "a watch line without result") }
        let revision = Self.int(result.field("header").field("revision"))
        if result.field("canceled")?.scalar?.string == "true" {
            let compact = Self.int(result.field("compact_revision"))
            if compact > 0 { return .compacted(revision: compact) }
            return .canceled(reason: result.field("cancel_reason")?.scalar?.string ?? "canceled by etcd")
        }
        if result.field("created")?.scalar?.string == "true" { return .created(revision: revision) }
        var events: [Event] = []
        for item in result.field("events")?.sequence ?? [] {
            guard let kv = item.field("kv") else { continue }
            if item.field("type")?.scalar?.string == "DELETE" {
                events.append(.delete(key: try Self.key(kv)))
            } else {
                events.append(.put(try Self.keyValue(kv)))
            }
        }
        return events.isEmpty ? .progress(revision: revision) : .events(revision: revision, events)
    }

    /// `/v3/auth/authenticate`'s token.
    static func token(_ text: String) throws(Problem) -> String {
        let root = try Self.object(text)
        if let error = Self.gatewayError(root) { throw Problem(description: error) }
        guard let token = root.field("token")?.scalar?.string, !token.isEmpty else {
            throw Problem(description: "no token in the authentication answer")
        }
        return token
    }

    /// The gateway's own error (`{"error": ..., "code": N, "message": ...}`), if the answer is one.
    static func gatewayError(_ root: YAMLNode) -> String? {
        guard let message = root.field("message")?.scalar?.string ?? root.field("error")?.scalar?.string
        else { return nil }
        let code = root.field("code")?.scalar?.string
        return code.map { "etcd: \(message) (code \($0))" } ?? "etcd: \(message)"
    }

    // MARK: - helpers

    private static func object(_ text: String) throws(Problem) -> YAMLNode {
        let composed: YAMLNode?
        do {
            composed = try YAMLComposer.compose(text)
        } catch {
            throw Problem(description: "bad JSON from etcd (\(error.message)): \(text.prefix(120))")
        }
        guard let node = composed, node.mapping != nil else {
            throw Problem(description: "not a JSON object: \(text.prefix(120))")
        }
        return node
    }

    private static func int(_ node: YAMLNode?) -> Int64 {
        node?.scalar.flatMap { Int64($0.string) } ?? 0
    }

    private static func key(_ node: YAMLNode) throws(Problem) -> String {
        guard let encoded = node.field("key")?.scalar?.string, let bytes = Base64.decode(encoded) else {
            throw Problem(description: "a key that is not base64")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func keyValue(_ node: YAMLNode) throws(Problem) -> KeyValue {
        let key = try Self.key(node)
        let encoded = node.field("value")?.scalar?.string ?? ""
        guard let value = Base64.decode(encoded) else {
            throw Problem(description: "the value of \(key) is not base64")
        }
        return KeyValue(key: key, value: value)
    }
}
