import Glibc

/// Notices when a configuration file is replaced, as consul-template, Kubernetes ConfigMaps and Ansible do it:
/// by an atomic rename (a new inode) or an in-place write (a new modification time or size) (SPEC §9).
///
/// It polls `stat(2)` once a second: cheap, and it works on every file system and through the symlink swaps of
/// ConfigMap volumes, where inotify watches on the old inode go silent.
struct ConfigWatcher: Sendable {
    /// The files to watch, re-read each round (the registry path can change with a reload).
    let paths: @Sendable () -> [String]
    /// How often to look.
    let interval: Duration
    /// What the files were when the watcher was made: changes are relative to this.
    let initial: [String: Identity]

    /// Takes the files' current identities now, so a change made right after is never missed.
    init(paths: @escaping @Sendable () -> [String], interval: Duration = .seconds(1)) {
        self.paths = paths
        self.interval = interval
        var initial: [String: Identity] = [:]
        for path in paths() { initial[path] = Self.identity(of: path) }
        self.initial = initial
    }

    struct Identity: Equatable, Sendable {
        var device: UInt64
        var inode: UInt64
        var modified: Int
        var modifiedNanos: Int
        var size: Int64
    }

    static func identity(of path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), modified: Int(info.st_mtim.tv_sec),
            modifiedNanos: Int(info.st_mtim.tv_nsec), size: Int64(info.st_size))
    }

    /// Calls `changed` with the path of a file whose identity changed, until the task is cancelled.
    func run(_ changed: @Sendable (String) -> Void) async {
        var known = self.initial
        while !Task.isCancelled {
            try? await Task.sleep(for: self.interval)
            if Task.isCancelled { return }
            var fired = false
            for path in self.paths() {
                let now = Self.identity(of: path)
                // A file briefly missing mid-rename is not a change yet; it is seen when it is back.
                if let now, known[path] != now {
                    if known[path] != nil && !fired {
                        changed(path)
                        fired = true
                    }
                    known[path] = now
                }
            }
        }
    }
}
