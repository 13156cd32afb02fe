/// `GET /` for an API client: where things are. A browser gets the live page instead (`AdminPage`).
struct AdminIndex: Encodable {
    var name = "outrigger"
    var version = OutriggerVersion.current
    var page = "open / in a browser for the live page"
    var openapi = "/openapi.json"
    var endpoints = [
        "/healthz", "/ready", "/stats", "/metrics", "/history", "/services", "/breakers", "/breakers/{name}",
        "/breakers/{name}/open", "/breakers/{name}/close", "/breakers/{name}/reset", "/faults", "/faults/{name}",
        "/config", "/reload", "/openapi.json",
    ]
}
