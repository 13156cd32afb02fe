import CCurl

/// Process-wide libcurl facts: one-time initialisation and the version it runs on.
public enum Curl {
    /// Initialises libcurl once. `curl_global_init` is not thread-safe, so `main` touches this before any thread
    /// starts; the engine touches it again as a no-op guard for tests.
    public static let initialized: Bool = {
        curl_global_init(ccurl_global_default()) == CURLE_OK
    }()

    /// The libcurl version string, e.g. `7.88.1`.
    public static var version: String { String(cString: ccurl_version_string()) }

    /// Whether HTTP/2 by prior knowledge (`protocol: h2c`) may reuse a connection. libcurl before 8.0.0 fails any
    /// transfer that reuses one ("Error in the HTTP2 framing layer", curl/curl#10634, fixed by #10643), so on
    /// those versions each h2c call gets a connection of its own.
    public static let reusesPriorKnowledgeConnections: Bool = ccurl_version_number() >= 0x08_00_00

    /// The TLS library libcurl was built with, e.g. `OpenSSL/3.0.17`.
    public static var tlsVersion: String { String(cString: ccurl_ssl_version_string()) }
}
