import CCurl
import Glibc

/// A named POSIX thread running one closure, joinable once: the curl workers and the access log writer.
///
/// Foundation's `Thread` would map Foundation (and its ICU data) into a daemon that needs nothing else from it.
struct NativeThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept) with a stack of `stackSize` bytes.
    init(name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
        final class Box {
            let name: String
            let body: @Sendable () -> Void
            init(name: String, body: @escaping @Sendable () -> Void) {
                self.name = name
                self.body = body
            }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(
            &handle, &attributes,
            { argument in
                let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
                ccurl_set_thread_name(box.name)
                box.body()
                return nil
            }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        self.handle = handle
    }

    /// Lets the thread's resources go when it returns, for a thread nobody joins.
    func detach() {
        _ = pthread_detach(self.handle)
    }

    /// Waits for the thread to return; call once, from another thread.
    func join() {
        _ = pthread_join(self.handle, nil)
    }
}
