import ArgumentParser
import Logging
import OutriggerCore
import ServiceLifecycle

/// The `outrigger` command (SPEC §1): `run` (default), `check`, `version`.
@main
struct Outrigger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outrigger",
        abstract: "A sidecar reverse proxy: routes HTTP/1.1 to the services of a static registry through libcurl.",
        subcommands: [Run.self, Check.self, Version.self],
        defaultSubcommand: Run.self
    )
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Config file (default: $OUTRIGGER_CONFIG, else /etc/outrigger/outrigger.yaml).")
    var config: String?

    var path: String { self.config ?? ConfigLoader.defaultPath() }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LogFormat: ExpressibleByArgument {}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the daemon (the default).")

    @OptionGroup var options: ConfigOption

    @Option(name: .long, help: "Log format on standard error: text or json.")
    var logFormat: LogFormat = .text

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        // libcurl's global init is not thread-safe: do it before any thread of ours exists.
        guard Curl.initialized else {
            Posix.writeStandardError("outrigger: curl_global_init failed\n")
            throw ExitCode(70)
        }
        LogSetup.bootstrap(format: self.logFormat, level: self.logLevel)
        let logger = Logger(label: "outrigger")
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(configPath: self.options.path)
        } catch {
            Posix.writeStandardError(error.description + "\n")
            throw ExitCode(64)  // EX_USAGE, as linkerd2-proxy: a bad config is the operator's to fix.
        }
        let service = OutriggerDaemon(loaded: loaded, configPath: self.options.path, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            logger.error("outrigger stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate the config and its registry.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        do {
            let loaded = try ConfigLoader.load(configPath: self.options.path)
            print("ok: \(loaded.summary)")
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and the libcurl it runs on.")

    func run() {
        let tls = Curl.tlsVersion.isEmpty ? "" : " (\(Curl.tlsVersion))"
        print("outrigger \(OutriggerVersion.current), libcurl \(Curl.version)\(tls)")
    }
}
