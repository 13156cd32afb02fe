/// Where and how spans are exported (SPEC §13): `tracing.otlp`, with the standard `OTEL_*` variables where the file
/// is silent.
public struct OTLPSettings: Sendable, Equatable {
    public enum WireProtocol: String, Sendable, Equatable {
        case protobuf = "http/protobuf"
        case json = "http/json"
    }

    public enum Compression: String, Sendable, Equatable {
        case gzip
        case none
    }

    /// The full OTLP/HTTP traces URL (`…/v1/traces`).
    public var endpoint = "http://localhost:4318/v1/traces"
    public var wireProtocol = WireProtocol.protobuf
    /// Sent with every export (an authorization header, a tenant).
    public var headers: [(name: String, value: String)] = []
    /// `service.name` of the exported resource.
    public var serviceName = "outrigger"
    public var compression = Compression.gzip
    /// How long one export may take.
    public var timeoutMs: Int64 = 10_000

    public init() {}

    public static func == (lhs: OTLPSettings, rhs: OTLPSettings) -> Bool {
        lhs.endpoint == rhs.endpoint && lhs.wireProtocol == rhs.wireProtocol
            && lhs.headers.map { "\($0.name)=\($0.value)" } == rhs.headers.map { "\($0.name)=\($0.value)" }
            && lhs.serviceName == rhs.serviceName && lhs.compression == rhs.compression
            && lhs.timeoutMs == rhs.timeoutMs
    }

    /// Which keys the file set, so the environment fills only the others.
    struct FileKeys: OptionSet {
        let rawValue: Int
        static let endpoint = FileKeys(rawValue: 1)
        static let wireProtocol = FileKeys(rawValue: 2)
        static let headers = FileKeys(rawValue: 4)
        static let serviceName = FileKeys(rawValue: 8)
    }

    /// Applies the OpenTelemetry exporter variables to the keys the file left out, the signal-specific ones
    /// (`OTEL_EXPORTER_OTLP_TRACES_*`) before the general ones (`OTEL_EXPORTER_OTLP_*`), as the OpenTelemetry
    /// specification orders them. Returns the problems (a bad protocol or header list), each naming its variable.
    mutating func applyEnvironment(_ environment: [String: String], fileKeys: FileKeys) -> [String] {
        var problems: [String] = []
        func value(_ name: String) -> (variable: String, value: String)? {
            for variable in ["OTEL_EXPORTER_OTLP_TRACES_\(name)", "OTEL_EXPORTER_OTLP_\(name)"] {
                if let text = environment[variable]?.trimmingWhitespace, !text.isEmpty { return (variable, text) }
            }
            return nil
        }
        if !fileKeys.contains(.endpoint) {
            if let url = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]?.trimmingWhitespace, !url.isEmpty {
                self.endpoint = url  // used as is
            } else if let base = environment["OTEL_EXPORTER_OTLP_ENDPOINT"]?.trimmingWhitespace, !base.isEmpty {
                self.endpoint = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/v1/traces"
            }
        }
        if !fileKeys.contains(.wireProtocol), let (variable, text) = value("PROTOCOL") {
            if let chosen = WireProtocol(rawValue: text) {
                self.wireProtocol = chosen
            } else {
                problems.append("\(variable)=\(text): expected http/protobuf or http/json (grpc is not supported)")
            }
        }
        if !fileKeys.contains(.headers), let (variable, text) = value("HEADERS") {
            for item in text.split(separator: ",") {
                let pair = item.split(separator: "=", maxSplits: 1)
                guard pair.count == 2, !pair[0].trimmingWhitespace.isEmpty else {
                    problems.append("\(variable): '\(item)' is not key=value")
                    continue
                }
                self.headers.append(
                    (Self.percentDecoded(pair[0].trimmingWhitespace), Self.percentDecoded(pair[1].trimmingWhitespace)))
            }
        }
        if let (variable, text) = value("COMPRESSION") {
            if let chosen = Compression(rawValue: text) {
                self.compression = chosen
            } else {
                problems.append("\(variable)=\(text): expected gzip or none")
            }
        }
        if let (variable, text) = value("TIMEOUT") {
            if let ms = Int64(text), ms > 0 {
                self.timeoutMs = ms
            } else {
                problems.append("\(variable)=\(text): expected milliseconds")
            }
        }
        if !fileKeys.contains(.serviceName), let name = environment["OTEL_SERVICE_NAME"]?.trimmingWhitespace,
            !name.isEmpty
        {
            self.serviceName = name
        }
        return problems
    }

    /// `%XX` sequences decoded (the header list is URL-encoded, W3C Baggage style).
    static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    fileprivate var trimmingWhitespace: String { String(self).trimmingWhitespace }
}
