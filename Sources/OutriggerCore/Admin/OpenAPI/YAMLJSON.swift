/// Writes a composed YAML document as compact JSON, resolving plain scalars by YAML 1.2's core schema (null,
/// booleans, integers and floats become JSON's; everything quoted stays a string). Keys keep their order.
enum YAMLJSON {
    static func json(_ node: YAMLNode) -> String {
        var output = ""
        Self.write(node, to: &output)
        return output
    }

    private static func write(_ node: YAMLNode, to output: inout String) {
        switch node {
        case .scalar(let scalar):
            if YAMLReader.isNull(node) {
                output += "null"
            } else {
                output += scalar.style == .plain ? Self.plain(scalar.string) : JSON.quote(scalar.string)
            }
        case .sequence(let items, _):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                Self.write(item, to: &output)
            }
            output += "]"
        case .mapping(let pairs, _):
            output += "{"
            for (index, pair) in pairs.enumerated() {
                if index > 0 { output += "," }
                output += JSON.quote(pair.key.scalar?.string ?? "") + ":"
                Self.write(pair.value, to: &output)
            }
            output += "}"
        }
    }

    /// A plain scalar other than null (`YAMLReader.isNull` says which are) as JSON: the core schema's booleans and
    /// numbers, else a string.
    static func plain(_ text: String) -> String {
        switch text {
        case "true", "True", "TRUE": return "true"
        case "false", "False", "FALSE": return "false"
        default: break
        }
        if Self.isNumber(text) { return text.hasPrefix("+") ? String(text.dropFirst()) : text }
        return JSON.quote(text)
    }

    /// `[-+]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`: the numbers JSON can also write.
    static func isNumber(_ text: String) -> Bool {
        var bytes = Array(text.utf8)[...]
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            bytes = bytes.dropFirst()
        }
        func digits() -> Int {
            let count = bytes.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }.count
            bytes = bytes.dropFirst(count)
            return count
        }
        let leading = bytes.first
        let whole = digits()
        guard whole > 0, !(leading == UInt8(ascii: "0") && whole > 1) else { return false }
        if bytes.first == UInt8(ascii: ".") {
            bytes = bytes.dropFirst()
            guard digits() > 0 else { return false }
        }
        if let e = bytes.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            bytes = bytes.dropFirst()
            if let sign = bytes.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
                bytes = bytes.dropFirst()
            }
            guard digits() > 0 else { return false }
        }
        return bytes.isEmpty
    }
}

extension AdminOpenAPI {
    /// The document as served at `GET /openapi.json`, converted once.
    /// The document composed once; nil only if the text above stopped parsing (`AdminOpenAPITests` would fail).
    private static let document: YAMLNode? = try? YAMLComposer.compose(Self.yaml)

    static let json: String = {
        guard let root = Self.document else {
            return "{\"error\":\"internal\",\"message\":\"the OpenAPI document does not parse\"}"
        }
        return YAMLJSON.json(root) + "\n"
    }()

    /// The documented methods of each path, upper-cased, in the document's order.
    static let operations: [(path: String, methods: [String])] = {
        let verbs: Set = ["get", "put", "post", "delete", "patch", "head", "options"]
        return Self.document.field("paths")?.mapping?.compactMap { pair in
            guard let path = pair.key.scalar?.string else { return nil }
            let methods = pair.value.mapping?.compactMap { $0.key.scalar?.string }.filter(verbs.contains) ?? []
            return (path, methods.map { $0.uppercased() })
        } ?? []
    }()

    /// The documented paths: the JSON index lists them.
    static var paths: [String] { Self.operations.map(\.path) }
}
