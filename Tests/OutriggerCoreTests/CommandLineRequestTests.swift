import Logging
import Testing

@testable import OutriggerCore

@Suite("Command line (SPEC §1)")
struct CommandLineRequestTests {
    @Test func runIsTheDefault() throws {
        #expect(try CommandLineRequest.parse([]) == .run(config: nil, format: .text, level: .info))
        #expect(
            try CommandLineRequest.parse(["--config", "a.yaml", "--log-format=json", "--log-level", "warning"])
                == .run(config: "a.yaml", format: .json, level: .warning))
        #expect(
            try CommandLineRequest.parse(["run", "--config=b.yaml"])
                == .run(config: "b.yaml", format: .text, level: .info))
    }

    @Test func checkAndVersion() throws {
        #expect(try CommandLineRequest.parse(["check"]) == .check(config: nil))
        #expect(try CommandLineRequest.parse(["check", "--config", "c.yaml"]) == .check(config: "c.yaml"))
        #expect(try CommandLineRequest.parse(["version"]) == .version)
        #expect(try CommandLineRequest.parse(["--help"]) == .help(CommandLineRequest.usage))
        #expect(try CommandLineRequest.parse(["check", "-h"]) == .help(CommandLineRequest.usage))
    }

    @Test func status() throws {
        #expect(try CommandLineRequest.parse(["status"]) == .status(StatusOptions()))
        #expect(
            try CommandLineRequest.parse([
                "status", "--admin=unix:/run/a.sock", "--watch", "--token", "t", "--config", "c",
            ])
                == .status(StatusOptions(config: "c", admin: "unix:/run/a.sock", token: "t", watch: true)))
    }

    @Test(arguments: [
        (["serve"], "unknown command 'serve' (expected run, check, status or version)"),
        (["--port", "1"], "unknown option '--port' for 'run'"),
        (["check", "--log-level", "info"], "unknown option '--log-level' for 'check'"),
        (["status", "--watch=yes"], "--watch takes no value"),
        (["status", "--log-level", "info"], "unknown option '--log-level' for 'status'"),
        (["version", "extra"], "unexpected argument 'extra' for 'version'"),
        (["--config"], "--config needs a value"),
        (["--log-format", "xml"], "--log-format must be text or json, not 'xml'"),
        (
            ["--log-level=loud"],
            "--log-level must be trace, debug, info, notice, warning, error or critical, not 'loud'"
        ),
    ])
    func badArgumentsAreNamed(arguments: [String], message: String) {
        #expect(throws: CommandLineError(message)) { try CommandLineRequest.parse(arguments) }
    }
}
