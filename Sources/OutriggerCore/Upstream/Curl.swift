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

    /// The TLS library libcurl was built with, e.g. `OpenSSL/3.0.17`.
    public static var tlsVersion: String { String(cString: ccurl_ssl_version_string()) }
}
