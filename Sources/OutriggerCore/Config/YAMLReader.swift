/// Reads typed values out of a composed YAML tree, collecting every problem with its file, line and column.
///
/// The loader never stops at the first problem: each accessor records an error and returns nil, so that
/// `outrigger check` can list everything wrong in one go (SPEC §2).
struct YAMLReader {
    /// The file name used in error messages.
    let file: String
    /// Problems found so far, in the order they were met.
    private(set) var errors: [ConfigError] = []
    /// Reading JSON (an admin API body): numbers and booleans must not be quoted, and an integer may be written
    /// with a zero fraction (`503.0`), as JSON Schema counts it an integer.
    var jsonTypes = false

    init(file: String) { self.file = file }

    /// In `jsonTypes` mode, a quoted scalar where a number or boolean belongs is an error.
    private mutating func refusesQuoted(_ node: YAMLNode, at path: String, _ kind: String) -> Bool {
        guard self.jsonTypes, let scalar = node.scalar, scalar.style != .plain else { return false }
        self.error(node, "\(path) must be \(kind), not the string \(JSON.quote(scalar.string))")
        return true
    }

    /// Parses the text into a node tree; a syntax error is recorded and nil returned.
    mutating func compose(_ text: String) -> YAMLNode? {
        do {
            return try YAMLComposer.compose(text)
        } catch {
            self.errors.append(
                ConfigError(
                    file: self.file, line: error.mark?.line ?? 0, column: error.mark?.column ?? 0,
                    message: error.message))
            return nil
        }
    }

    /// Records a problem at a node's position.
    mutating func error(_ node: YAMLNode?, _ message: String) {
        let mark = node?.mark
        self.errors.append(
            ConfigError(file: self.file, line: mark?.line ?? 0, column: mark?.column ?? 0, message: message))
    }

    /// What is accepted but worth a look, in the order met.
    private(set) var warnings: [ConfigError] = []

    /// Records a warning at a node's position.
    mutating func warn(_ node: YAMLNode, _ message: String) {
        self.warnings.append(
            ConfigError(file: self.file, line: node.mark.line, column: node.mark.column, message: "warning: " + message)
        )
    }

    /// Records a problem about the file as a whole.
    mutating func fileError(_ message: String) {
        self.errors.append(ConfigError(file: self.file, line: 0, column: 0, message: message))
    }

    /// The key/value pairs of a mapping, after checking every key is known. A null node reads as empty.
    mutating func mapping(_ node: YAMLNode, at path: String, allowed: [String]) -> [(
        key: String, keyNode: YAMLNode, value: YAMLNode
    )]? {
        if Self.isNull(node) { return [] }
        guard let mapping = node.mapping else {
            self.error(node, "\(path) must be a mapping of keys to values")
            return nil
        }
        var result: [(key: String, keyNode: YAMLNode, value: YAMLNode)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                self.error(keyNode, "\(path) has a key that is not a plain string")
                continue
            }
            if !allowed.isEmpty && !allowed.contains(key) {
                let expected = allowed.joined(separator: ", ")
                self.error(keyNode, "unknown key '\(key)' in \(path) (expected one of: \(expected))")
                continue
            }
            result.append((key, keyNode, value))
        }
        return result
    }

    static func isNull(_ node: YAMLNode) -> Bool {
        guard let scalar = node.scalar else { return false }
        return scalar.style == .plain && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    mutating func string(_ node: YAMLNode, at path: String) -> String? {
        guard let scalar = node.scalar, !Self.isNull(node) else {
            self.error(node, "\(path) must be a string")
            return nil
        }
        return scalar.string
    }

    /// A file path, resolved against `folder`, that can be opened for reading now (certificates, keys, CAs):
    /// a missing or unreadable file is reported at the key, not at the first connection.
    mutating func readableFile(_ node: YAMLNode, at path: String, folder: String) -> String? {
        guard let text = self.string(node, at: path) else { return nil }
        let resolved = ConfigLoader.resolve(text, folder: folder)
        if let problem = Posix.readableFileProblem(resolved) {
            self.error(node, "cannot read \(path) '\(resolved)': \(problem)")
            return nil
        }
        return resolved
    }

    mutating func int(_ node: YAMLNode, at path: String, range: ClosedRange<Int>) -> Int? {
        if self.refusesQuoted(node, at: path, "an integer") { return nil }
        var integral = node.scalar.flatMap { Int($0.string) }
        if self.jsonTypes, integral == nil, let scalar = node.scalar, let value = Double(scalar.string),
            value.rounded() == value, abs(value) < 1e15
        {
            integral = Int(value)
        }
        guard let value = integral else {
            self.error(node, "\(path) must be an integer, not '\(node.scalar?.string ?? "a collection")'")
            return nil
        }
        guard range.contains(value) else {
            self.error(node, "\(path) must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
            return nil
        }
        return value
    }

    mutating func double(_ node: YAMLNode, at path: String, range: ClosedRange<Double>) -> Double? {
        if self.refusesQuoted(node, at: path, "a number") { return nil }
        guard let scalar = node.scalar, let value = Double(scalar.string), value.isFinite else {
            self.error(node, "\(path) must be a number, not '\(node.scalar?.string ?? "a collection")'")
            return nil
        }
        guard range.contains(value) else {
            self.error(node, "\(path) must be between \(range.lowerBound) and \(range.upperBound), not \(value)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: YAMLNode, at path: String) -> Bool? {
        if self.refusesQuoted(node, at: path, "true or false") { return nil }
        switch node.scalar?.string {
        case "true", "True", "TRUE", "yes": return true
        case "false", "False", "FALSE", "no": return false
        default:
            self.error(node, "\(path) must be true or false, not '\(node.scalar?.string ?? "a collection")'")
            return nil
        }
    }

    /// A duration in milliseconds (`250ms`, `2s`, `1m`, `1h`, or `0`).
    mutating func duration(_ node: YAMLNode, at path: String) -> Int64? {
        guard let text = node.scalar?.string else {
            self.error(node, "\(path) must be a duration like 250ms, 2s, 1m or 1h")
            return nil
        }
        if self.jsonTypes, node.scalar?.style == .plain {
            self.error(node, "\(path) must be a string like \"250ms\", \"2s\", \"1m\" or \"1h\", not \(text)")
            return nil
        }
        guard let ms = ConfigDuration.milliseconds(from: text) else {
            self.error(node, "\(path): bad duration '\(text)' (expected a whole number with ms, s, m or h, e.g. 250ms)")
            return nil
        }
        return ms
    }

    mutating func sequence(_ node: YAMLNode, at path: String) -> [YAMLNode]? {
        if Self.isNull(node) { return [] }
        guard let sequence = node.sequence else {
            self.error(node, "\(path) must be a list")
            return nil
        }
        return Array(sequence)
    }
}
