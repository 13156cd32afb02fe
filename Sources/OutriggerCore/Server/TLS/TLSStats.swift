import Atomics

/// Handshakes on the TLS listener, and failures by reason (SPEC §18: counted, not logged one warning each).
final class TLSStats: Sendable {
    /// Why a handshake did not complete, as `/stats` and the `reason` label of `/metrics` name it.
    enum FailureReason: String, CaseIterable, Sendable {
        /// mTLS is on and the client sent no certificate.
        case noClientCertificate = "no_client_certificate"
        /// The client's certificate did not verify against `client_ca_file`.
        case badClientCertificate = "bad_client_certificate"
        /// The client refused Outrigger's certificate (an alert such as unknown_ca or bad_certificate).
        case clientRejectedCertificate = "client_rejected_certificate"
        /// Below `min_version`, or a version the server does not speak.
        case unsupportedVersion = "unsupported_version"
        case noSharedCipher = "no_shared_cipher"
        /// The client offered only ALPN protocols Outrigger does not serve.
        case noSharedProtocol = "no_shared_protocol"
        /// Not TLS at all (plain HTTP sent to the TLS port, for one).
        case notTLS = "not_tls"
        /// The connection closed or timed out before the handshake finished.
        case incomplete
        case other
    }

    let handshakes = ManagedAtomic<Int>(0)
    private let failures: [ManagedAtomic<Int>] = FailureReason.allCases.map { _ in ManagedAtomic<Int>(0) }

    func countFailure(_ reason: FailureReason) {
        let index = FailureReason.allCases.firstIndex(of: reason)!
        self.failures[index].wrappingIncrement(ordering: .relaxed)
    }

    /// Every reason with its count, in a stable order (zeros included, so dashboards see each series).
    var failureCounts: [(reason: String, count: Int)] {
        zip(FailureReason.allCases, self.failures).map { ($0.rawValue, $1.load(ordering: .relaxed)) }
    }

    /// Names the reason of a handshake error from BoringSSL's error text.
    static func reason(of error: any Error) -> FailureReason {
        let text = String(describing: error).uppercased()
        func has(_ needle: String) -> Bool { text.contains(needle) }
        if has("PEER_DID_NOT_RETURN_A_CERTIFICATE") || has("CERTIFICATE_REQUIRED") { return .noClientCertificate }
        if has("CERTIFICATE_VERIFY_FAILED") { return .badClientCertificate }
        if has("ALERT_UNKNOWN_CA") || has("ALERT_BAD_CERTIFICATE") || has("ALERT_CERTIFICATE_UNKNOWN") {
            return .clientRejectedCertificate
        }
        if has("UNSUPPORTED_PROTOCOL") || has("PROTOCOL_VERSION") || has("WRONG_VERSION") { return .unsupportedVersion }
        if has("NO_SHARED_CIPHER") { return .noSharedCipher }
        if has("NO_APPLICATION_PROTOCOL") { return .noSharedProtocol }
        if has("HTTP_REQUEST") || has("WRONG_VERSION_NUMBER") || has("PACKET_LENGTH_TOO_LONG") || has("RECORD_LENGTH") {
            return .notTLS
        }
        if has("UNCLEANSHUTDOWN") || has("EOF") { return .incomplete }
        return .other
    }
}
