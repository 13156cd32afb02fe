import NIOSSL

/// The server side of SPEC §18: the `NIOSSLContext` new TLS connections use, built from the config's pair.
///
/// A reload builds a new one before anything is swapped; if it cannot (a bad or mismatched pair), the reload is
/// refused and the running context stays. Open connections keep the context they shook hands with.
enum InboundTLSContext {
    static func make(_ tls: OutriggerConfig.InboundTLS) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(tls.certFile).map { NIOSSLCertificateSource.certificate($0) }
        let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: tls.keyFile, format: .pem))
        var configuration: TLSConfiguration
        if let ca = tls.clientCAFile {
            // Clients must present a certificate this CA signed; a server cannot check a client's host name.
            configuration = .makeServerConfigurationWithMTLS(
                certificateChain: chain, privateKey: key, trustRoots: .file(ca))
            configuration.sendCANameList = true
        } else {
            configuration = .makeServerConfiguration(certificateChain: chain, privateKey: key)
        }
        configuration.minimumTLSVersion = tls.minVersion == .tls13 ? .tlsv13 : .tlsv12
        configuration.applicationProtocols = tls.offeredALPN
        return try NIOSSLContext(configuration: configuration)
    }
}
