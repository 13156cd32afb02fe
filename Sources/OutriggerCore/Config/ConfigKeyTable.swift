/// The keys of one section of a config file, each with what it sets: one table both says which keys are allowed
/// (anything else is an `unknown key` error with its position) and reads each value into the target, so a key can
/// never be accepted without being applied, or applied without being documented here.
struct ConfigKeyTable<Target>: Sendable {
    /// Reads `value` (found at `keyPath`, such as `limits.max_connections`) into `target`, reporting problems to
    /// `reader`.
    typealias Setter =
        @Sendable (_ value: YAMLNode, _ keyPath: String, _ target: inout Target, _ reader: inout YAMLReader) -> Void

    /// The keys in documentation order, with their setters.
    let entries: [(key: String, set: Setter)]

    init(_ entries: [(String, Setter)]) {
        self.entries = entries.map { (key: $0.0, set: $0.1) }
    }

    /// The allowed keys.
    var keys: [String] { self.entries.map(\.key) }

    /// Reads a mapping section: rejects unknown keys and sets every known one, in file order. `prefix` is the
    /// section's path for messages (empty for a file's top level). Returns the pairs read, or nil when the node is
    /// not a mapping.
    @discardableResult
    func read(
        _ node: YAMLNode, at path: String, prefix: String, into target: inout Target, reader: inout YAMLReader
    ) -> [(key: String, keyNode: YAMLNode, value: YAMLNode)]? {
        guard let pairs = reader.mapping(node, at: path, allowed: self.keys) else { return nil }
        for (key, _, value) in pairs {
            // `mapping` let only the table's keys through.
            guard let entry = self.entries.first(where: { $0.key == key }) else { continue }
            entry.set(value, prefix.isEmpty ? key : "\(prefix).\(key)", &target, &reader)
        }
        return pairs
    }
}
