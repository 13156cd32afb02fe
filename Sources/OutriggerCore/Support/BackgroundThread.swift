import Atomics
import Glibc

/// Helpers for the daemon's own blocking background threads (etcd discovery, span export).
enum BackgroundThread {
    /// Sleeps `ms` milliseconds, waking every 50 ms to end early once `stop` is set (shutdown is never held up).
    static func sleep(ms: Int, unless stop: ManagedAtomic<Bool>) {
        var left = ms
        while left > 0 && !stop.load(ordering: .relaxed) {
            let slice = min(left, 50)
            usleep(UInt32(slice * 1000))
            left -= slice
        }
    }
}
