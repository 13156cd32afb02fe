import Testing

@testable import OutriggerCore

@Suite("outrigger status without a daemon: target, report and table (SPEC §14)")
struct StatusCommandTests {
    static let history = """
        {"interval_seconds":1,"capacity":300,"times_ms":[1,2],"services":[
          {"name":"orders","breaker":"closed","recent":{"seconds":10,"requests_per_second":12.5,"error_share":0.02,
           "p99_ms":3.25},"requests":[0,5],"errors":[0,0],"p99_ms":[null,3.25]},
          {"name":"payments","breaker":"open","recent":{"seconds":10,"requests_per_second":3,"error_share":1,
           "p99_ms":1500},"requests":[0,3],"errors":[0,3],"p99_ms":[null,1500]},
          {"name":"idle","breaker":"closed","requests":[],"errors":[],"p99_ms":[]}]}
        """
    static let services = """
        {"services":[
          {"name":"orders","in_flight":2,"endpoints":[{"address":"127.0.0.1:8081","healthy":true}]},
          {"name":"payments","in_flight":0,"endpoints":[{"address":"10.0.0.1:80","healthy":false},
            {"address":"10.0.0.2:80","healthy":true}]},
          {"name":"idle","in_flight":0,"endpoints":[]}]}
        """

    @Test func theReportReadsBothDocuments() throws {
        let report = try StatusReport.parse(history: Self.history, services: Self.services)
        #expect(report.windowSeconds == 10)
        #expect(report.anyBreakerOpen)
        #expect(
            report.rows[1]
                == StatusRow(
                    name: "payments", breaker: "open", requestsPerSecond: 3, errorShare: 1, p99Ms: 1500, inFlight: 0,
                    endpoints: 2, ejected: ["10.0.0.1:80"]))
        #expect(report.rows[2].requestsPerSecond == nil)
        #expect(throws: StatusFailure.self) { try StatusReport.parse(history: "<html>", services: Self.services) }
    }

    @Test func theTableShowsTroubleFirstWithoutColoursOffATerminal() throws {
        let report = try StatusReport.parse(history: Self.history, services: Self.services)
        let text = StatusTable.render(report, target: "http://127.0.0.1:9901", color: false)
        #expect(
            text == """
                outrigger at http://127.0.0.1:9901: 3 services, rates over the last 10 s
                SERVICE   BREAKER  REQ/S  ERRORS      P99  IN-FLIGHT  EJECTED
                payments  open       3.0  100.0%   1.50 s          0  1/2 10.0.0.1:80
                orders    closed    12.5    2.0%  3.25 ms          2  0/1
                idle      closed       -       -        -          0  0/0
                breaker open: payments (curl http://127.0.0.1:9901/breakers/NAME for why)

                """)
        #expect(!text.contains("\u{1B}["))
        let coloured = StatusTable.render(report, target: "x", color: true)
        #expect(coloured.contains("\u{1B}[1;31mopen"))
    }

    @Test func theTargetComesFromTheFlagsOrTheConfig() throws {
        #expect(try AdminTarget.parse("127.0.0.1:9901").baseURL == "http://127.0.0.1:9901")
        #expect(try AdminTarget.parse("http://[::1]:9901/").baseURL == "http://[::1]:9901")
        #expect(try AdminTarget.parse("unix:/run/a.sock").unixSocket == "/run/a.sock")
        #expect(throws: StatusFailure.self) { try AdminTarget.parse("localhost") }
        #expect(AdminTarget.target(for: .inet(host: "0.0.0.0", port: 9901)).baseURL == "http://127.0.0.1:9901")
        #expect(AdminTarget.target(for: .inet(host: "::", port: 9)).baseURL == "http://[::1]:9")
        let missing = StatusOptions(config: "/nonexistent/outrigger.yaml")
        #expect(throws: StatusFailure.self) { try AdminTarget.resolve(missing, environment: [:]) }
        let explicit = try AdminTarget.resolve(
            StatusOptions(config: "/nonexistent/outrigger.yaml", admin: "127.0.0.1:1"),
            environment: ["OUTRIGGER_ADMIN_TOKEN": "from-env"])
        #expect(explicit.token == "from-env")
        // The variable is read as the daemon reads it: trimmed, and blank is none.
        let trimmed = try AdminTarget.resolve(
            StatusOptions(config: "/nonexistent/outrigger.yaml", admin: "127.0.0.1:1"),
            environment: ["OUTRIGGER_ADMIN_TOKEN": " from-env\n"])
        #expect(trimmed.token == "from-env")
        let blank = try AdminTarget.resolve(
            StatusOptions(config: "/nonexistent/outrigger.yaml", admin: "127.0.0.1:1"),
            environment: ["OUTRIGGER_ADMIN_TOKEN": "  "])
        #expect(blank.token == nil)
        // No config file at the default path and none asked for: the built-in (and shipped) admin address.
        let builtIn = try AdminTarget.resolve(
            StatusOptions(), environment: ["OUTRIGGER_ADMIN_TOKEN": "t"], defaultPath: "/nonexistent/outrigger.yaml")
        #expect(builtIn.baseURL == "http://127.0.0.1:9901")
        #expect(builtIn.token == "t")
        // A config named by OUTRIGGER_CONFIG must exist.
        #expect(throws: StatusFailure.self) {
            try AdminTarget.resolve(
                StatusOptions(), environment: ["OUTRIGGER_CONFIG": "/nonexistent/o.yaml"],
                defaultPath: "/nonexistent/outrigger.yaml")
        }
    }

    @Test func numbersAreFormattedWithoutFoundation() {
        #expect(StatusTable.fixed(12.345, 1) == "12.3")
        #expect(StatusTable.fixed(0.05, 2) == "0.05")
        #expect(StatusTable.fixed(7, 0) == "7")
        #expect(StatusTable.milliseconds(0.5) == "0.50 ms")
    }
}
