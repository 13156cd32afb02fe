import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP port on 127.0.0.1 whose accept queue is full, so further connection attempts get no answer at all: the
/// kernel drops their SYNs. A real connect timeout, with nothing leaving loopback.
final class BlackholeListener {
    let port: Int
    private let listener: Int32
    private var fillers: [Int32] = []

    init() throws {
        let bound = try LoopbackSocket()
        guard listen(bound.descriptor, 0) == 0 else {
            close(bound.descriptor)
            throw POSIXError(.EADDRINUSE)
        }
        self.listener = bound.descriptor
        self.port = bound.port
        var address = bound.address
        // Backlog 0 holds one connection; a few non-blocking connects fill it and its SYN queue.
        for _ in 0..<3 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            self.fillers.append(filler)
        }
    }

    deinit {
        for fd in self.fillers { close(fd) }
        close(self.listener)
    }
}
