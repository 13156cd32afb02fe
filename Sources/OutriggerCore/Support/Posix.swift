import Glibc

/// A file that could not be read, with the system's reason (`No such file or directory`).
struct FileReadError: Error, CustomStringConvertible {
    var reason: String
    var description: String { self.reason }
}

/// Small POSIX helpers that spare the daemon Foundation (and the ICU data it maps) for a handful of calls.
public enum Posix {
    /// The whole file as UTF-8 text.
    static func readText(_ path: String) throws(FileReadError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(reason: Self.errorText(errno)) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileReadError(reason: Self.errorText(errno))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileReadError(reason: "the file is not UTF-8 text")
        }
        return text
    }

    /// Why `path` is not a regular file this process can open for reading, or nil when it is. Nothing is read:
    /// a device or a pipe named by mistake must not hang `check`.
    static func readableFileProblem(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return Self.errorText(errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return Self.errorText(errno) }
        guard status.st_mode & S_IFMT == S_IFREG else { return "not a regular file" }
        return nil
    }

    /// `strerror` for an errno value.
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// The process environment.
    public static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        return result
    }

    /// The working directory, or "." when it cannot be read.
    static func currentDirectory() -> String {
        guard let path = getcwd(nil, 0) else { return "." }
        defer { free(path) }
        return String(cString: path)
    }

    /// Wall-clock time now.
    static func wallClock() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }

    /// Writes a whole string to standard error (diagnostics before logging is set up).
    public static func writeStandardError(_ text: String) { Self.writeAll(STDERR_FILENO, text) }

    /// Writes a whole string to standard output, unbuffered (the status table, a frame at a time).
    static func writeStandardOutput(_ text: String) { Self.writeAll(STDOUT_FILENO, text) }

    private static func writeAll(_ descriptor: Int32, _ text: String) {
        var text = text
        text.withUTF8 { _ = Self.writeAll(descriptor, $0) }
    }

    /// Writes all of `bytes` unless the descriptor fails; returns how many bytes were written.
    static func writeAll(_ descriptor: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { break }
            offset += written
        }
        return offset
    }
}

extension String {
    /// The text without leading and trailing whitespace and newlines.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0.isWhitespace || $0.isNewline }
        guard let first = self.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = self.lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
