import Logging

/// What the `outrigger` command line asks for (SPEC §1): `run` (the default), `check`, `version`, or help.
///
/// Parsed by hand rather than with swift-argument-parser, which maps FoundationEssentials into a daemon that
/// otherwise needs none of it (issue 11, idle memory).
public enum CommandLineRequest: Equatable, Sendable {
    case run(config: String?, format: LogFormat, level: Logger.Level)
    case check(config: String?)
    /// `status`: the per-service table read from the admin API (SPEC §14).
    case status(StatusOptions)
    case version
    /// `--help` (or `help`): the text to print, exit 0.
    case help(String)

    /// The usage text.
    public static let usage = """
        outrigger: a sidecar reverse proxy that routes HTTP/1.1 to the services of a YAML registry through libcurl.

        usage: outrigger [run] [--config PATH] [--log-format text|json] [--log-level LEVEL]
               outrigger check [--config PATH]
               outrigger status [--admin URL] [--token TOKEN] [--watch] [--config PATH]
               outrigger version

          run          run the daemon (the default)
          check        validate the config and its registry; exit 1 when invalid
          status       one row per service from the admin API: breaker, rate, errors, p99, in-flight,
                       ejected endpoints; exit 2 when a breaker is open, 1 when the admin API cannot be read
          version      print the version and the libcurl it runs on

          --config PATH       config file (default: $OUTRIGGER_CONFIG, else /etc/outrigger/outrigger.yaml)
          --log-format FMT    log format on standard error: text or json (default text)
          --log-level LEVEL   trace, debug, info, notice, warning, error or critical (default info)
          --admin URL         admin API for status: http://HOST:PORT or unix:PATH (default: the config's admin.listen)
          --token TOKEN       admin token for status (default: the config's admin.token, token_file or
                              $OUTRIGGER_ADMIN_TOKEN)
          --watch             status: redraw every second until interrupted
          -h, --help          this text
        """

    /// Parses the arguments after the program name.
    public static func parse(_ arguments: [String]) throws(CommandLineError) -> CommandLineRequest {
        var rest = arguments[...]
        var command = "run"
        if let first = rest.first, !first.hasPrefix("-") {
            command = first
            rest = rest.dropFirst()
        }
        guard ["run", "check", "status", "version", "help"].contains(command) else {
            throw CommandLineError("unknown command '\(command)' (expected run, check, status or version)")
        }
        if command == "help" { return .help(Self.usage) }
        var config: String?
        var format = LogFormat.text
        var level = Logger.Level.info
        var status = StatusOptions()
        let allowed: [String] =
            switch command {
            case "run": ["--config", "--log-format", "--log-level"]
            case "check": ["--config"]
            case "status": ["--config", "--admin", "--token", "--watch"]
            default: []
            }
        while let argument = rest.popFirst() {
            if argument == "-h" || argument == "--help" { return .help(Self.usage) }
            var name = argument
            var value: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                name = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            guard allowed.contains(name) else {
                throw CommandLineError(
                    argument.hasPrefix("-")
                        ? "unknown option '\(name)' for '\(command)'"
                        : "unexpected argument '\(argument)' for '\(command)'")
            }
            if name == "--watch" {
                guard value == nil else { throw CommandLineError("--watch takes no value") }
                status.watch = true
                continue
            }
            if value == nil { value = rest.popFirst() }
            guard let value, !value.isEmpty else { throw CommandLineError("\(name) needs a value") }
            switch name {
            case "--config":
                config = value
            case "--admin":
                status.admin = value
            case "--token":
                status.token = value
            case "--log-format":
                guard let parsed = LogFormat(rawValue: value) else {
                    throw CommandLineError("--log-format must be text or json, not '\(value)'")
                }
                format = parsed
            default:
                guard let parsed = Logger.Level(rawValue: value) else {
                    throw CommandLineError(
                        "--log-level must be trace, debug, info, notice, warning, error or critical, not '\(value)'")
                }
                level = parsed
            }
        }
        switch command {
        case "check": return .check(config: config)
        case "status":
            status.config = config
            return .status(status)
        case "version": return .version
        default: return .run(config: config, format: format, level: level)
        }
    }
}

/// A command line that cannot be run: the message says which argument was wrong.
public struct CommandLineError: Error, Equatable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { self.message }
}

/// What `outrigger status` was asked for; nil fields default to the config file's values.
public struct StatusOptions: Equatable, Sendable {
    public var config: String?
    public var admin: String?
    public var token: String?
    public var watch = false

    public init(config: String? = nil, admin: String? = nil, token: String? = nil, watch: Bool = false) {
        self.config = config
        self.admin = admin
        self.token = token
        self.watch = watch
    }
}
