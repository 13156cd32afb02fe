import NIOCore
import NIOPosix

/// Binding a listener, the same way for the proxy, its TLS listener and the admin API: a TCP address or a unix
/// socket (a stale socket file is replaced), and every failure as a `ListenError` naming the address.
enum Listener {
    static func bind(_ bootstrap: ServerBootstrap, to address: ListenAddress) async throws(ListenError) -> any Channel {
        do {
            switch address {
            case .inet(let host, let port):
                return try await bootstrap.bind(host: host, port: port).get()
            case .unix(let path):
                return try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            }
        } catch {
            throw ListenError(address: address, underlying: error)
        }
    }
}
