/// A problem found in a configuration file, located by file, line and column (SPEC §2).
///
/// Its description is the `FILE:LINE:COL: message` form that `outrigger check` prints and editors understand.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file the problem is in, as given (relative paths stay relative).
    public var file: String
    /// 1-based line, or 0 when the problem is about the file as a whole.
    public var line: Int
    /// 1-based column, or 0 when the problem is about the file as a whole.
    public var column: Int
    /// What is wrong, naming the key or value.
    public var message: String

    /// Creates an error at a position.
    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String { "\(self.file):\(self.line):\(self.column): \(self.message)" }
}

/// Every problem found in the configuration, in file order; thrown by the loader so that none is hidden.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    /// The problems, each with its position.
    public var errors: [ConfigError]

    /// Wraps a list of problems.
    public init(_ errors: [ConfigError]) { self.errors = errors }

    public var description: String { self.errors.map(\.description).joined(separator: "\n") }
}
