import CCurl
import Foundation
import NIOHTTP1
import Testing

@testable import OutriggerCore

@Suite("Inbound TLS")
struct InboundTLSTests {
    @Test func clientCertificate_isDescribedAsEnvoyWritesXFCC() throws {
        let pki = TestPKI.files
        let der = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pki.leafDER)))
        let element = TLSConnectionObserver.xfccElement(der: der)
        #expect(
            element
                == "Hash=\(pki.leafSHA256);Subject=\"CN=leaf,O=Acme\";URI=spiffe://acme/leaf;DNS=leaf.acme;DNS=alt.acme"
        )
        #expect(TLSConnectionObserver.xfccElement(der: [0x30, 0x03, 0x01]) == nil)
    }

    @Test func xfcc_fromTheClient_isDropped_andOursIsAdded() {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "orders")
        headers.add(name: "X-Forwarded-Client-Cert", value: "Hash=forged")
        let plain = HeaderRulesTests.drain(
            RequestHeaderRules.curlHeaders(.init(headers: headers, clientAddress: "10.0.0.1", requestID: "r1")))
        #expect(!plain.contains { $0.lowercased().hasPrefix("x-forwarded-client-cert") }, "\(plain)")
        #expect(plain.contains("X-Forwarded-Proto: http"))
        let tls = HeaderRulesTests.drain(
            RequestHeaderRules.curlHeaders(
                .init(
                    headers: headers, clientAddress: "10.0.0.1", requestID: "r1", forwardedProto: "https",
                    clientCertificate: "Hash=abc;Subject=\"CN=x\"")))
        #expect(
            tls.filter { $0.lowercased().hasPrefix("x-forwarded-client-cert") } == [
                "x-forwarded-client-cert: Hash=abc;Subject=\"CN=x\""
            ])
        #expect(tls.contains("X-Forwarded-Proto: https"))
    }

    @Test func handshakeErrors_areNamedByReason() {
        struct Text: Error, CustomStringConvertible { var description: String }
        let cases: [(String, TLSStats.FailureReason)] = [
            (
                "handshakeFailed(sslError([Error: 268435650 error:100000c0:SSL routines:OPENSSL_internal:PEER_DID_NOT_RETURN_A_CERTIFICATE]))",
                .noClientCertificate
            ),
            ("error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED", .badClientCertificate),
            ("error:10000418:SSL routines:OPENSSL_internal:TLSV1_ALERT_UNKNOWN_CA", .clientRejectedCertificate),
            ("error:100000f0:SSL routines:OPENSSL_internal:UNSUPPORTED_PROTOCOL", .unsupportedVersion),
            ("error:100000b8:SSL routines:OPENSSL_internal:NO_SHARED_CIPHER", .noSharedCipher),
            ("error:100000e8:SSL routines:OPENSSL_internal:NO_APPLICATION_PROTOCOL", .noSharedProtocol),
            ("error:1000009c:SSL routines:OPENSSL_internal:HTTP_REQUEST", .notTLS),
            ("uncleanShutdown", .incomplete),
            ("something else", .other),
        ]
        for (text, reason) in cases {
            #expect(TLSStats.reason(of: Text(description: text)) == reason, "\(text)")
        }
        let stats = TLSStats()
        stats.countFailure(.notTLS)
        stats.countFailure(.notTLS)
        let counts = stats.failureCounts
        #expect(counts.count == TLSStats.FailureReason.allCases.count)
        #expect(counts.first { $0.reason == "not_tls" }?.count == 2)
        #expect(counts.filter { $0.count > 0 }.count == 1)
    }
}
