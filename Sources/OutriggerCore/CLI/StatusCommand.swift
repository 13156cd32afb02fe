import Atomics
import Glibc

/// `outrigger status` (SPEC §14): reads `/history` and `/services` from the admin API and prints the table.
/// Exit 0, 2 when a breaker is open, 1 with one line on standard error when the admin API cannot be read.
public enum StatusCommand {
    public static func run(_ options: StatusOptions, environment: [String: String] = Posix.environment()) -> Int32 {
        guard Curl.initialized else {
            Posix.writeStandardError("outrigger status: curl_global_init failed\n")
            return 1
        }
        let target: AdminTarget
        do {
            target = try AdminTarget.resolve(options, environment: environment)
        } catch {
            Posix.writeStandardError("outrigger status: \(error)\n")
            return 1
        }
        let terminal = isatty(STDOUT_FILENO) == 1
        let color = terminal && (environment["NO_COLOR"] ?? "").isEmpty && environment["TERM"] != "dumb"
        guard options.watch else {
            switch Self.read(target) {
            case .success(let report):
                Posix.writeStandardOutput(StatusTable.render(report, target: target.display, color: color))
                return report.anyBreakerOpen ? 2 : 0
            case .failure(let failure):
                Posix.writeStandardError("outrigger status: \(failure)\n")
                return 1
            }
        }
        // --watch: redraw every second until interrupted; a failure is shown in place and retried.
        while true {
            var frame = terminal ? "\u{1B}[H\u{1B}[2J" : ""
            switch Self.read(target) {
            case .success(let report):
                frame += StatusTable.render(report, target: target.display, color: color)
            case .failure(let failure):
                frame += "outrigger status: \(failure)\n"
            }
            if !terminal { frame += "\n" }
            Posix.writeStandardOutput(frame)
            var pause = timespec(tv_sec: 1, tv_nsec: 0)
            nanosleep(&pause, nil)
        }
    }

    static func read(_ target: AdminTarget) -> Result<StatusReport, StatusFailure> {
        do {
            let history = try Self.get("/history", from: target)
            let services = try Self.get("/services", from: target)
            return .success(try StatusReport.parse(history: history, services: services))
        } catch {
            return .failure(error)
        }
    }

    /// One GET; a transport failure, a refused token or another status is a one-line `StatusFailure`.
    static func get(_ path: String, from target: AdminTarget) throws(StatusFailure) -> String {
        var request = BlockingCurl(url: target.baseURL + path, body: nil, stop: ManagedAtomic(false))
        request.unixSocket = target.unixSocket
        request.timeoutMs = 5000
        request.connectTimeoutMs = 2000
        if let token = target.token { request.headers = ["Authorization: Bearer \(token)"] }
        let response: BlockingCurl.Response
        do {
            response = try request.perform()
        } catch {
            throw StatusFailure("cannot reach the admin API at \(target.display): \(error.description)")
        }
        let body = String(decoding: response.body, as: UTF8.self)
        switch response.status {
        case 200:
            return body
        case 401:
            throw StatusFailure(
                target.token == nil
                    ? "the admin API at \(target.display) needs a token: pass --token TOKEN or set OUTRIGGER_ADMIN_TOKEN"
                    : "the admin API at \(target.display) refused the token (401): check --token, admin.token or "
                        + "OUTRIGGER_ADMIN_TOKEN")
        default:
            throw StatusFailure(
                "the admin API at \(target.display) answered \(response.status) to GET \(path): is it an Outrigger "
                    + "admin port?")
        }
    }
}
