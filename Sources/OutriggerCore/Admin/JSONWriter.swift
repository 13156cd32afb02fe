/// Encodes the admin API's `Encodable` views as pretty-printed JSON with sorted keys, in the layout Foundation's
/// `JSONEncoder` writes (`"key" : value`, two-space indent), without Foundation: the daemon maps none of it.
///
/// Optionals left nil are omitted (synthesized `encodeIfPresent`), integral doubles print without a fraction.
enum JSONWriter {
    static func encode<T: Encodable>(_ value: T, compact: Bool = false) throws -> String {
        let root = JSONNode.Box()
        try value.encode(to: TreeEncoder(box: root, codingPath: []))
        var output = ""
        if compact {
            root.value.writeCompact(to: &output)
        } else {
            root.value.write(to: &output, indent: 0)
        }
        return output
    }
}

/// A JSON value under construction; containers are boxes so nested encoders can fill them in place.
enum JSONNode {
    final class Box {
        var value: JSONNode = .null
    }

    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([Box])
    case object([String: Box])

    /// Without whitespace, keys sorted: for long columns of numbers (`/history`), a quarter of the pretty size.
    func writeCompact(to output: inout String) {
        switch self {
        case .null, .bool, .number, .string: self.write(to: &output, indent: 0)
        case .array(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                item.value.writeCompact(to: &output)
            }
            output += "]"
        case .object(let members):
            output += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { output += "," }
                output += JSON.quote(key) + ":"
                members[key]!.value.writeCompact(to: &output)
            }
            output += "}"
        }
    }

    func write(to output: inout String, indent: Int) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .number(let text): output += text
        case .string(let text): output += JSON.quote(text)
        case .array(let items):
            if items.isEmpty {
                output += "[\n\n" + String(repeating: " ", count: indent) + "]"
                return
            }
            output += "[\n"
            for (index, item) in items.enumerated() {
                output += String(repeating: " ", count: indent + 2)
                item.value.write(to: &output, indent: indent + 2)
                output += index == items.count - 1 ? "\n" : ",\n"
            }
            output += String(repeating: " ", count: indent) + "]"
        case .object(let members):
            if members.isEmpty {
                output += "{\n\n" + String(repeating: " ", count: indent) + "}"
                return
            }
            output += "{\n"
            let keys = members.keys.sorted()
            for (index, key) in keys.enumerated() {
                output += String(repeating: " ", count: indent + 2) + JSON.quote(key) + " : "
                members[key]!.value.write(to: &output, indent: indent + 2)
                output += index == keys.count - 1 ? "\n" : ",\n"
            }
            output += String(repeating: " ", count: indent) + "}"
        }
    }

    static func number(_ value: Double) -> JSONNode {
        if value.isFinite && value == value.rounded() && abs(value) < 1e15 { return .number(String(Int64(value))) }
        return value.isFinite ? .number("\(value)") : .null
    }
}

private struct TreeEncoder: Encoder {
    let box: JSONNode.Box
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = self.box.value {} else { self.box.value = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(box: self.box, codingPath: self.codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = self.box.value {} else { self.box.value = .array([]) }
        return UnkeyedContainer(box: self.box, codingPath: self.codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(box: self.box, codingPath: self.codingPath)
    }
}

/// Encodes one value into a box: the scalars directly, anything else through its own `encode(to:)`.
private func encodeValue<T: Encodable>(_ value: T, into box: JSONNode.Box, codingPath: [any CodingKey]) throws {
    switch value {
    case let value as String: box.value = .string(value)
    case let value as Bool: box.value = .bool(value)
    case let value as Double: box.value = JSONNode.number(value)
    case let value as Float: box.value = JSONNode.number(Double(value))
    case let value as any BinaryInteger: box.value = .number("\(value)")
    default: try value.encode(to: TreeEncoder(box: box, codingPath: codingPath))
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let box: JSONNode.Box
    let codingPath: [any CodingKey]

    private func child(_ key: Key) -> JSONNode.Box {
        let child = JSONNode.Box()
        if case .object(var members) = self.box.value {
            members[key.stringValue] = child
            self.box.value = .object(members)
        }
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { self.child(key).value = .null }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeValue(value, into: self.child(key), codingPath: self.codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        TreeEncoder(box: self.child(key), codingPath: self.codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        TreeEncoder(box: self.child(key), codingPath: self.codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { TreeEncoder(box: self.box, codingPath: self.codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoder(box: self.child(key), codingPath: self.codingPath + [key])
    }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let box: JSONNode.Box
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let items) = self.box.value { return items.count }
        return 0
    }

    private func append() -> JSONNode.Box {
        let child = JSONNode.Box()
        if case .array(var items) = self.box.value {
            items.append(child)
            self.box.value = .array(items)
        }
        return child
    }

    mutating func encodeNil() throws { self.append().value = .null }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeValue(value, into: self.append(), codingPath: self.codingPath)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        TreeEncoder(box: self.append(), codingPath: self.codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        TreeEncoder(box: self.append(), codingPath: self.codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { TreeEncoder(box: self.append(), codingPath: self.codingPath) }
}

private struct SingleContainer: SingleValueEncodingContainer {
    let box: JSONNode.Box
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { self.box.value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeValue(value, into: self.box, codingPath: self.codingPath)
    }
}
