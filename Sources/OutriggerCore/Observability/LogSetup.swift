import Logging

/// How log lines are written to standard error (SPEC §1).
public enum LogFormat: String, Sendable, CaseIterable {
    case text
    case json
}

/// One JSON object per line on standard error: `time`, `level`, `message`, `label`, and the metadata keys.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String

    /// Creates a handler for a logger label.
    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"time\":\(JSON.quote(Self.timestamp()))"
        line += ",\"level\":\(JSON.quote(event.level.rawValue))"
        line += ",\"label\":\(JSON.quote(self.label))"
        line += ",\"message\":\(JSON.quote(event.message.description))"
        let merged = self.metadata.merging(event.metadata ?? [:]) { _, new in new }
        for key in merged.keys.sorted() where !["time", "level", "label", "message"].contains(key) {
            line += ",\(JSON.quote(key)):\(JSON.quote(merged[key]!.description))"
        }
        line += "}\n"
        Posix.writeStandardError(line)
    }

    static func timestamp() -> String {
        AccessRecord.iso8601(Posix.wallClock())
    }
}

/// Installs the process-wide log handler; called once by `main`, never by the library or tests.
public enum LogSetup {
    /// Bootstraps swift-log with the chosen format and level.
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .text: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}
