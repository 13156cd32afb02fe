import CCurl

/// Maps a finished transfer's libcurl result to the SPEC §8 error codes.
enum CurlErrorMapping {
    /// The error for a failed transfer, or nil when `code` is `CURLE_OK`.
    ///
    /// `connected` tells a connect timeout from a request timeout: curl reports both as `CURLE_OPERATION_TIMEDOUT`.
    static func error(for code: CURLcode, connected: Bool, message: String, service: String?) -> OutriggerError? {
        let detail = "curl \(code.rawValue): \(message)"
        switch code {
        case CURLE_OK:
            return nil
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return OutriggerError(
                .upstreamConnectFailed, "could not connect to the upstream", service: service, detail: detail)
        case CURLE_OPERATION_TIMEDOUT:
            if !connected {
                return OutriggerError(
                    .upstreamConnectTimeout, "timed out connecting to the upstream", service: service, detail: detail)
            }
            return OutriggerError(
                .upstreamTimeout, "the upstream did not answer in time", service: service, detail: detail)
        case CURLE_SEND_ERROR,
            CURLE_RECV_ERROR where Self.isTLSAlert(message):
            // TLS 1.3 ends the handshake before the server checks the client's certificate: a refusal (no
            // certificate, or one it does not trust) arrives as an alert on the first read.
            return OutriggerError(
                .upstreamTLSError, "the upstream refused the TLS session", service: service, detail: detail)
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE:
            return OutriggerError(
                .upstreamReset, "the upstream closed or reset the connection", service: service, detail: detail)
        case CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL, CURLE_HTTP2, CURLE_HTTP3:
            return OutriggerError(
                .upstreamProtocolError, "the upstream sent a malformed response", service: service, detail: detail)
        case CURLE_PEER_FAILED_VERIFICATION:
            return OutriggerError(
                .upstreamTLSError, "the upstream's TLS certificate did not verify", service: service, detail: detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED,
            CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS:
            return OutriggerError(
                .upstreamTLSError, "the TLS handshake with the upstream failed", service: service, detail: detail)
        default:
            if connected {
                return OutriggerError(.upstreamReset, "the upstream exchange failed", service: service, detail: detail)
            }
            return OutriggerError(
                .upstreamConnectFailed, "could not reach the upstream", service: service, detail: detail)
        }
    }

    /// Whether curl's message is OpenSSL reporting an alert from the peer ("... SSL routines::tlsv13 alert
    /// certificate required").
    static func isTLSAlert(_ message: String) -> Bool {
        message.contains("SSL") && message.contains(" alert ")
    }
}
