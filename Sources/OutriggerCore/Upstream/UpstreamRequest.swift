import CCurl

/// What one try sends upstream, prepared on the event loop and handed to a curl worker.
///
/// The header list is a `curl_slist` built once; the worker frees it when the transfer ends.
struct UpstreamRequest {
    /// How the request body is framed towards the upstream.
    enum Body: Equatable {
        /// No body at all.
        case none
        /// A body of known length (the client's Content-Length).
        case length(Int64)
        /// A body of unknown length: curl sends it chunked.
        case chunked
    }

    /// How the response is framed towards the client, decided from the client's request.
    struct ClientFraming {
        /// The request was HEAD: the response never has a body.
        var isHead: Bool
        /// The client spoke HTTP/1.1 (chunked responses allowed).
        var clientIsHTTP11: Bool
        /// The connection is kept open after this exchange, unless the response forces a close.
        var keepAlive: Bool
        /// Added to the response unless the upstream sent its own.
        var requestID: String
        /// `x-outrigger-fault`, when a fault acted on the try (SPEC §11).
        var fault: String? = nil
    }

    /// Scheme, host and port, ending in `/`; the path goes in `target`.
    var baseURL: String
    /// The request target exactly as the upstream must see it (origin form).
    var target: String
    /// The method, byte for byte.
    var method: String
    /// Header lines, `Name: value`, in order.
    var headers: UnsafeMutablePointer<curl_slist>?
    /// Request body framing.
    var body: Body
    /// A unix socket path for `unix:` endpoints.
    var unixSocketPath: String?
    /// Milliseconds to connect.
    var connectTimeoutMs: Int64
    /// Milliseconds for the whole exchange; 0 = none.
    var requestTimeoutMs: Int64
    /// TLS peer verification for https endpoints.
    var tlsVerify: Bool
    /// CA bundle for https endpoints.
    var tlsCAFile: String?
    /// Client certificate and key for https endpoints (mTLS).
    var tlsCertFile: String? = nil
    var tlsKeyFile: String? = nil
    /// `CURLOPT_CONNECT_TO` entry (`name:port:address:port`) when the URL names `tls.server_name` rather than the
    /// endpoint's address.
    var connectTo: String? = nil
    /// Response framing for the client.
    var framing: ClientFraming
    /// Statuses that may still be retried: such a response is held back (up to `Transfer.holdLimit`) instead of
    /// streamed, so a retry never follows bytes already sent to the client (SPEC §5).
    var holdStatuses: [Int] = []
    /// Hold a gRPC trailers-only UNAVAILABLE back too (`unavailable` in `retry_on`, and a retry still possible).
    var holdsGRPCUnavailable = false
    /// `CURLOPT_HTTP_VERSION`: HTTP/1.1, HTTP/2 by prior knowledge, or HTTP/2 by ALPN over TLS (SPEC §10).
    var httpVersion = Int(CURL_HTTP_VERSION_1_1)
    /// Connect only (SPEC §10 upgrades): curl opens the connection and hands over its descriptor; nothing is sent.
    var connectOnly = false
}
