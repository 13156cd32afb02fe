import Glibc
import Logging
import OutriggerCore
import ServiceLifecycle

/// The `outrigger` command (SPEC §1, §14): `run` (default), `check`, `status`, `version`.
@main
enum Outrigger {
    static func main() async {
        let request: CommandLineRequest
        do {
            request = try CommandLineRequest.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            Posix.writeStandardError("outrigger: \(error)\n\nrun 'outrigger --help' for usage\n")
            exit(64)  // EX_USAGE
        }
        switch request {
        case .help(let text):
            print(text)
        case .version:
            let tls = Curl.tlsVersion.isEmpty ? "" : " (\(Curl.tlsVersion))"
            print("outrigger \(OutriggerVersion.current), libcurl \(Curl.version)\(tls)")
        case .check(let config):
            let path = config ?? ConfigLoader.defaultPath()
            do {
                let loaded = try ConfigLoader.load(configPath: path)
                for warning in loaded.warnings { print(warning.description) }
                print("ok: \(loaded.summary)")
            } catch {
                print(error.description)
                exit(1)
            }
        case .status(let options):
            exit(StatusCommand.run(options))
        case .run(let config, let format, let level):
            exit(await Self.run(configPath: config ?? ConfigLoader.defaultPath(), format: format, level: level))
        }
    }

    /// Runs the daemon until SIGTERM or SIGINT; returns the exit status.
    static func run(configPath: String, format: LogFormat, level: Logger.Level) async -> Int32 {
        // libcurl's global init is not thread-safe: do it before any thread of ours exists.
        guard Curl.initialized else {
            Posix.writeStandardError("outrigger: curl_global_init failed\n")
            return 70
        }
        LogSetup.bootstrap(format: format, level: level)
        let logger = Logger(label: "outrigger")
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(configPath: configPath)
        } catch {
            Posix.writeStandardError(error.description + "\n")
            return 64  // EX_USAGE, as linkerd2-proxy: a bad config is the operator's to fix.
        }
        for warning in loaded.warnings {
            logger.warning("configuration", metadata: ["warning": "\(warning)"])
        }
        let daemon: OutriggerDaemon
        do {
            daemon = try await OutriggerDaemon.start(loaded: loaded, configPath: configPath, logger: logger)
        } catch {
            logger.error("outrigger stopped on an error", metadata: ["error": "\(error)"])
            return 1
        }
        // One group; graceful shutdown stops the services in reverse order (OutriggerDaemon says which and why).
        let group = ServiceGroup(
            configuration: .init(
                services: daemon.services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
            logger.info("stopped")
            return 0
        } catch {
            logger.error("outrigger stopped on an error", metadata: ["error": "\(error)"])
            return 1
        }
    }
}
