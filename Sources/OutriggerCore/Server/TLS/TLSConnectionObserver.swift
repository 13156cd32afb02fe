import CX509
import NIOCore
import NIOSSL
import NIOTLS

/// What the TLS layer learnt about one inbound connection, read by its `ProxyHandler`.
final class InboundTLSInfo {
    /// The verified client certificate as Envoy's `x-forwarded-client-cert` element (mTLS only).
    var clientCertificate: String?
}

/// Sits behind the TLS handler of one inbound connection: counts the handshake or its failure by reason, records
/// the client certificate, and keeps handshake errors from reaching the HTTP layer (no plaintext 400 is written to
/// a peer that never finished TLS).
final class TLSConnectionObserver: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let stats: TLSStats
    private let info: InboundTLSInfo
    private var handshakeDone = false
    private var failureCounted = false

    init(stats: TLSStats, info: InboundTLSInfo) {
        self.stats = stats
        self.info = info
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            self.handshakeDone = true
            self.stats.handshakes.wrappingIncrement(ordering: .relaxed)
            if let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate(),
                let der = try? certificate.toDERBytes()
            {
                self.info.clientCertificate = Self.xfccElement(der: der)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !self.handshakeDone {
            if !self.failureCounted {
                self.failureCounted = true
                self.stats.countFailure(TLSStats.reason(of: error))
            }
            context.close(promise: nil)
            return
        }
        if let error = error as? NIOSSLError, case .uncleanShutdown = error {
            return  // a client that closes without close_notify after its response: nothing was lost
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.handshakeDone && !self.failureCounted {
            self.failureCounted = true
            self.stats.countFailure(.incomplete)
        }
        context.fireChannelInactive()
    }

    /// `Hash=…;Subject="…";URI=…;DNS=…` for a DER certificate, as Envoy writes it.
    static func xfccElement(der: [UInt8]) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { out in
            let written = der.withUnsafeBufferPointer {
                cx509_xfcc($0.baseAddress, $0.count, out.baseAddress, out.count)
            }
            guard written > 0 else { return nil }
            return String(cString: out.baseAddress!)
        }
    }
}
