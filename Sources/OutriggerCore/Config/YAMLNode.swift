import CYAML

/// A position in a YAML file, 1-based, as error messages print it (`FILE:LINE:COL`).
struct YAMLMark: Equatable, Sendable {
    var line: Int
    var column: Int
}

/// One node of a composed YAML document: the shape the config loader walks, with positions for its errors.
///
/// Composed straight from libyaml's events (`YAMLComposer`). Tags are not interpreted: the loader reads every
/// scalar as text and converts it where a key expects a number, a duration or a boolean.
enum YAMLNode: Sendable {
    /// A scalar and how it was written (a quoted `"null"` is a string, a plain `null` is null).
    struct Scalar: Sendable {
        enum Style: Sendable { case plain, quoted, block }
        var string: String
        var style: Style
        var mark: YAMLMark
    }

    case scalar(Scalar)
    case mapping([(key: YAMLNode, value: YAMLNode)], YAMLMark)
    case sequence([YAMLNode], YAMLMark)

    var mark: YAMLMark {
        switch self {
        case .scalar(let scalar): return scalar.mark
        case .mapping(_, let mark), .sequence(_, let mark): return mark
        }
    }

    var scalar: Scalar? {
        if case .scalar(let scalar) = self { return scalar }
        return nil
    }

    var mapping: [(key: YAMLNode, value: YAMLNode)]? {
        if case .mapping(let pairs, _) = self { return pairs }
        return nil
    }

    var sequence: [YAMLNode]? {
        if case .sequence(let items, _) = self { return items }
        return nil
    }

    /// The value under `name` in a mapping (a JSON object read through the composer); nil for a missing key or
    /// a node that is not a mapping.
    func field(_ name: String) -> YAMLNode? {
        self.mapping?.first { $0.key.scalar?.string == name }?.value
    }
}

extension Optional where Wrapped == YAMLNode {
    /// `field` through an absent node, so lookups chain: `root.field("header").field("revision")`.
    func field(_ name: String) -> YAMLNode? { self?.field(name) }
}

/// Why a text is not one YAML document: the message and where libyaml (or the composer) found the problem.
struct YAMLSyntaxError: Error, Equatable {
    var message: String
    var mark: YAMLMark?
}

/// Builds a `YAMLNode` tree from libyaml's event stream: one document, aliases resolved, duplicate keys refused.
struct YAMLComposer: ~Copyable {
    private var parser = yaml_parser_t()
    private var anchors: [String: YAMLNode] = [:]

    /// Composes `text`; nil for an empty document.
    static func compose(_ text: String) throws(YAMLSyntaxError) -> YAMLNode? {
        var bytes = Array(text.utf8)
        var composer = YAMLComposer()
        guard yaml_parser_initialize(&composer.parser) == 1 else {
            throw YAMLSyntaxError(message: "out of memory", mark: nil)
        }
        defer { yaml_parser_delete(&composer.parser) }
        return try bytes.withUnsafeMutableBufferPointer { buffer throws(YAMLSyntaxError) -> YAMLNode? in
            yaml_parser_set_input_string(&composer.parser, buffer.baseAddress, buffer.count)
            return try composer.document()
        }
    }

    private mutating func document() throws(YAMLSyntaxError) -> YAMLNode? {
        var event = try self.next()  // stream start
        yaml_event_delete(&event)
        event = try self.next()
        if event.type == YAML_STREAM_END_EVENT {
            yaml_event_delete(&event)
            return nil
        }
        yaml_event_delete(&event)  // document start
        event = try self.next()
        let root = try self.node(from: &event)
        event = try self.next()  // document end
        yaml_event_delete(&event)
        event = try self.next()
        defer { yaml_event_delete(&event) }
        guard event.type == YAML_STREAM_END_EVENT else {
            throw YAMLSyntaxError(
                message: "expected a single document in the stream but found another document",
                mark: Self.mark(event.start_mark))
        }
        return root
    }

    private mutating func next() throws(YAMLSyntaxError) -> yaml_event_t {
        var event = yaml_event_t()
        guard yaml_parser_parse(&self.parser, &event) == 1 else { throw self.syntaxError() }
        return event
    }

    /// Composes the node `event` starts, consuming (and deleting) every event up to its end.
    private mutating func node(from event: inout yaml_event_t) throws(YAMLSyntaxError) -> YAMLNode {
        defer { yaml_event_delete(&event) }
        let mark = Self.mark(event.start_mark)
        switch event.type {
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let node = self.anchors[name] else {
                throw YAMLSyntaxError(message: "found undefined alias '\(name)'", mark: mark)
            }
            return node
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text = String(
                decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            let style: YAMLNode.Scalar.Style
            switch scalar.style {
            case YAML_PLAIN_SCALAR_STYLE, YAML_ANY_SCALAR_STYLE: style = .plain
            case YAML_LITERAL_SCALAR_STYLE, YAML_FOLDED_SCALAR_STYLE: style = .block
            default: style = .quoted
            }
            let node = YAMLNode.scalar(.init(string: text, style: style, mark: mark))
            self.register(scalar.anchor, node)
            return node
        case YAML_SEQUENCE_START_EVENT:
            let anchor = event.data.sequence_start.anchor.map { String(cString: $0) }
            var items: [YAMLNode] = []
            while true {
                var item = try self.next()
                if item.type == YAML_SEQUENCE_END_EVENT {
                    yaml_event_delete(&item)
                    break
                }
                items.append(try self.node(from: &item))
            }
            let node = YAMLNode.sequence(items, mark)
            if let anchor { self.anchors[anchor] = node }
            return node
        case YAML_MAPPING_START_EVENT:
            let anchor = event.data.mapping_start.anchor.map { String(cString: $0) }
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            var seen: [String: YAMLMark] = [:]
            var duplicates: [(name: String, first: YAMLMark)] = []
            while true {
                var keyEvent = try self.next()
                if keyEvent.type == YAML_MAPPING_END_EVENT {
                    yaml_event_delete(&keyEvent)
                    break
                }
                let key = try self.node(from: &keyEvent)
                var valueEvent = try self.next()
                let value = try self.node(from: &valueEvent)
                if let name = key.scalar?.string {
                    if let first = seen[name] {
                        if !duplicates.contains(where: { $0.name == name }) { duplicates.append((name, first)) }
                    } else {
                        seen[name] = key.mark
                    }
                }
                pairs.append((key, value))
            }
            if !duplicates.isEmpty {
                let sorted = duplicates.sorted { $0.name < $1.name }
                throw YAMLSyntaxError(
                    message: "duplicate key \(sorted.map { "'\($0.name)'" }.joined(separator: ", ")): "
                        + "each key (and each service name) may appear only once",
                    mark: sorted[0].first)
            }
            let node = YAMLNode.mapping(pairs, mark)
            if let anchor { self.anchors[anchor] = node }
            return node
        default:
            throw YAMLSyntaxError(message: "unexpected YAML event \(event.type.rawValue)", mark: mark)
        }
    }

    private mutating func register(_ anchor: UnsafeMutablePointer<yaml_char_t>?, _ node: YAMLNode) {
        guard let anchor else { return }
        self.anchors[String(cString: anchor)] = node
    }

    private func syntaxError() -> YAMLSyntaxError {
        let problem = self.parser.problem.map { String(cString: $0) } ?? "not valid YAML"
        let context = self.parser.context.map { String(cString: $0) + " " } ?? ""
        switch self.parser.error {
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR, YAML_COMPOSER_ERROR:
            return YAMLSyntaxError(message: context + problem, mark: Self.mark(self.parser.problem_mark))
        default:
            // Reader errors (bad encoding) have an offset, not a line.
            return YAMLSyntaxError(message: "\(problem) at byte \(self.parser.problem_offset)", mark: nil)
        }
    }

    private static func mark(_ mark: yaml_mark_t) -> YAMLMark {
        YAMLMark(line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}
