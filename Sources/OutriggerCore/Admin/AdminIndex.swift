/// `GET /` for an API client: where things are. A browser gets the live page instead (`AdminPage`).
struct AdminIndex: Encodable {
    var name = "outrigger"
    var version = OutriggerVersion.current
    var page = "open / in a browser for the live page"
    var openapi = "/openapi.json"
    /// The documented paths: the OpenAPI document is the one list.
    var endpoints = AdminOpenAPI.paths
}
