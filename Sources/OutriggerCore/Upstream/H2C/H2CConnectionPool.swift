import NIOCore

/// One event loop's HTTP/2 connections to `protocol: h2c` endpoints (SPEC §10, docs/http2.md).
///
/// One connection per endpoint: its streams multiplex on it, and streams above the upstream's
/// `SETTINGS_MAX_CONCURRENT_STREAMS` wait in swift-nio-http2's stream buffer instead of opening more connections.
/// A connection that got GOAWAY, failed or closed leaves the pool; the next call to that endpoint opens a new one.
/// Loop-confined: every method runs on `eventLoop`.
final class H2CConnectionPool {
    let eventLoop: any EventLoop
    private var connections: [String: H2CConnection] = [:]
    /// A connection without a stream for this long is closed (curl keeps an idle connection about as long).
    let idleTimeout: TimeAmount

    init(eventLoop: any EventLoop, idleTimeout: TimeAmount = .seconds(60)) {
        self.eventLoop = eventLoop
        self.idleTimeout = idleTimeout
    }

    /// Connections open or opening, for the admin API and tests.
    var count: Int { self.connections.count }

    /// `https://` endpoints that chose HTTP/1.1 by ALPN, until when (uptime ns): their calls go through libcurl.
    private var http1Until: [String: UInt64] = [:]
    /// How long an HTTP/1.1 answer to ALPN is trusted before HTTP/2 is offered again (an upstream may be upgraded).
    static let http1Memory: TimeAmount = .minutes(5)

    /// The connection a call to `endpoint` uses: the open one, or a new one being opened.
    func connection(to endpoint: Endpoint, connectTimeoutMs: Int64, tls: H2CConnection.TLS?) -> H2CConnection {
        self.eventLoop.preconditionInEventLoop()
        let key = endpoint.original
        if let existing = self.connections[key], existing.acceptsStreams { return existing }
        let connection = H2CConnection(key: key, pool: self)
        self.connections[key] = connection
        connection.connect(to: endpoint, timeoutMs: connectTimeoutMs, tls: tls)
        return connection
    }

    /// Whether `endpoint` answered ALPN with HTTP/1.1 recently.
    func prefersHTTP1(_ endpoint: Endpoint) -> Bool {
        guard let until = self.http1Until[endpoint.original] else { return false }
        if self.eventLoop.now.uptimeNanoseconds < until { return true }
        self.http1Until[endpoint.original] = nil
        return false
    }

    func rememberHTTP1(_ endpoint: Endpoint) {
        self.http1Until[endpoint.original] =
            self.eventLoop.now.uptimeNanoseconds + UInt64(Self.http1Memory.nanoseconds)
    }

    /// A connection that will take no new stream (closed, failed, GOAWAY) leaves the pool.
    func forget(_ connection: H2CConnection) {
        if self.connections[connection.key] === connection { self.connections[connection.key] = nil }
    }

    /// Closes every connection (shutdown).
    func closeAll() {
        let all = self.connections.values
        self.connections = [:]
        for connection in all { connection.close() }
    }
}
