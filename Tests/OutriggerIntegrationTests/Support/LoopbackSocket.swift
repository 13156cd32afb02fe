import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP socket bound to 127.0.0.1 on a port the kernel chose.
struct LoopbackSocket {
    let descriptor: Int32
    let address: sockaddr_in
    var port: Int { Int(UInt16(bigEndian: self.address.sin_port)) }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.descriptor = fd
        self.address = address
    }
}

/// Ports that refuse every connection (bound, never listening: the kernel answers a SYN with RST) and stay
/// reserved for the whole test process, so no other test's listener can be given the same number meanwhile.
enum RefusingPorts {
    private static let held = NSLock()
    nonisolated(unsafe) private static var descriptors: [Int32] = []

    /// A new refusing port; its socket stays open until the test process exits.
    static func make() throws -> Int {
        let socket = try LoopbackSocket()
        Self.held.withLock { Self.descriptors.append(socket.descriptor) }
        return socket.port
    }
}
