import NIOCore

/// One try's exchange with an upstream, as the connection's handler drives it: a libcurl `Transfer`, or an
/// `H2CCall` on Outrigger's own HTTP/2 connections (`protocol: h2c`, docs/http2.md).
///
/// Every method is called on the client connection's event loop; the call reports back through its
/// `TransferSink` on the same loop.
protocol UpstreamCall: AnyObject {
    /// The endpoint as written in the registry, for logs.
    var endpoint: String { get }
    /// When a byte last moved to or from the upstream, in uptime nanoseconds (SPEC §17 `idle_timeout`).
    var lastActivityNs: UInt64 { get }
    /// Queues request body bytes; returns true when the caller should stop reading from the client.
    func appendBody(_ buffer: ByteBuffer) -> Bool
    /// Marks the request body complete.
    func endBody()
    /// `bytes` handed over by `didProduce` were written to the client channel.
    func consumed(_ bytes: Int)
    /// The client channel's writability changed: a blocked client pauses the upstream (backpressure, SPEC §4).
    func clientWritabilityChanged(writable: Bool)
    /// Abandons the exchange (client gone, or a timeout); no further events are delivered.
    func cancel()
}

/// Receives one call's events, on the call's event loop.
protocol TransferSink: AnyObject {
    /// Response bytes for the client (head and/or body, already framed).
    func transfer(_ transfer: any UpstreamCall, didProduce bytes: ByteBuffer)
    /// The upstream drained the request body below the low watermark: reading from the client may resume.
    func transferWantsMoreBody(_ transfer: any UpstreamCall)
    /// The exchange completed; `closeConnection` when the response framing requires a close. `held` carries the
    /// whole response when its status was one the request asked to hold (a retry candidate); nothing was sent.
    /// `grpcStatus` is the response's `grpc-status` (head or trailers), when it had one.
    func transferDidFinish(
        _ transfer: any UpstreamCall, status: Int, closeConnection: Bool, held: ByteBuffer?, grpcStatus: Int?)
    /// The exchange failed; `responseStarted` when head bytes already went to the client.
    func transfer(_ transfer: any UpstreamCall, didFail error: OutriggerError, responseStarted: Bool)
    /// A connect-only transfer connected; the sink owns `descriptor` from now on.
    func transfer(_ transfer: any UpstreamCall, didConnect descriptor: Int32)
}
