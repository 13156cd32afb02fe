import Atomics
import Dispatch
import Glibc
import NIOConcurrencyHelpers

/// The access log of SPEC §6: one JSON line per request, written by a thread of its own.
///
/// Requests only append a line to a bounded queue; a slow disk slows the writer, never a request. When the queue
/// is full, lines are dropped and counted (`dropped`), never waited for. SIGUSR1 (`reopen()`) reopens the file
/// after logrotate moved it.
public final class AccessLog: Sendable {
    /// Where lines go.
    public enum Destination: Sendable, Equatable {
        case stdout
        case file(String)
    }

    struct Queue {
        var lines: [String] = []
        var reopen = false
        var stopping = false
    }

    /// Lines waiting for the writer before new ones are dropped.
    public static let capacity = 16_384

    /// The destination.
    public let destination: Destination
    /// Lines dropped because the writer could not keep up.
    public let dropped = ManagedAtomic<Int>(0)
    /// Lines written.
    public let written = ManagedAtomic<Int>(0)
    /// Lines lost because writing them failed (disk full, closed pipe); never counted as written.
    public let failed = ManagedAtomic<Int>(0)
    private let queue = NIOLockedValueBox(Queue())
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Opens the destination and starts the writer; throws when a file cannot be opened for appending.
    public init(destination: Destination) throws {
        self.destination = destination
        let descriptor = try Self.open(destination)
        // `shutdown` waits on `finished`, not on the thread: nobody joins it.
        NativeThread(name: "outrigger-access-log") { [self] in self.run(descriptor: descriptor) }.detach()
    }

    static func open(_ destination: Destination) throws -> Int32 {
        switch destination {
        case .stdout:
            return STDOUT_FILENO
        case .file(let path):
            let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard descriptor >= 0 else {
                throw AccessLogError(path: path, reason: String(cString: strerror(errno)))
            }
            return descriptor
        }
    }

    /// Queues a line (without its newline); never blocks.
    public func log(_ line: String) {
        let wake = self.queue.withLockedValue { queue -> Bool? in
            guard queue.lines.count < Self.capacity else { return nil }
            queue.lines.append(line)
            return queue.lines.count == 1
        }
        switch wake {
        case .none: self.dropped.wrappingIncrement(ordering: .relaxed)
        case .some(true): self.wakeup.signal()
        case .some(false): break
        }
    }

    /// Reopens the file (after logrotate); no-op for stdout.
    public func reopen() {
        self.queue.withLockedValue { $0.reopen = true }
        self.wakeup.signal()
    }

    /// Writes what is queued and stops the writer.
    public func shutdown() {
        self.queue.withLockedValue { $0.stopping = true }
        self.wakeup.signal()
        self.finished.wait()
    }

    private func run(descriptor initial: Int32) {
        var descriptor = initial
        var batch: [String] = []
        while true {
            self.wakeup.wait()
            var reopen = false
            var stopping = false
            self.queue.withLockedValue { queue in
                swap(&batch, &queue.lines)
                reopen = queue.reopen
                queue.reopen = false
                stopping = queue.stopping
            }
            // Reopen before writing: lines queued after the rotation belong in the new file.
            if reopen, case .file = self.destination, let fresh = try? Self.open(self.destination) {
                close(descriptor)
                descriptor = fresh
            }
            if !batch.isEmpty {
                var bytes = batch.joined(separator: "\n")
                bytes += "\n"
                let complete = bytes.withUTF8 { buffer -> Int in
                    let offset = Posix.writeAll(descriptor, buffer)
                    if offset == buffer.count { return batch.count }
                    // Only lines whose newline reached the file were written.
                    return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<offset]).reduce(0) {
                        $0 + ($1 == 10 ? 1 : 0)
                    }
                }
                self.written.wrappingIncrement(by: complete, ordering: .relaxed)
                if complete < batch.count {
                    self.failed.wrappingIncrement(by: batch.count - complete, ordering: .relaxed)
                }
                batch.removeAll(keepingCapacity: true)
            }
            if stopping { break }
        }
        if case .file = self.destination { close(descriptor) }
        self.finished.signal()
    }
}

/// The access log file could not be opened.
public struct AccessLogError: Error, CustomStringConvertible {
    /// The file.
    public var path: String
    /// What the system said.
    public var reason: String

    public var description: String { "cannot open access log '\(self.path)': \(self.reason)" }
}

/// One access log record (SPEC §6), rendered as a JSON line.
struct AccessRecord {
    var time: timespec
    var client: String?
    var method: String
    var path: String
    /// `HTTP/1.1`, `HTTP/1.0` or `HTTP/2` (SPEC §10); empty when no request head was read.
    var protocolVersion = ""
    var service: String?
    var endpoint: String?
    var status: Int
    /// The gRPC status of a gRPC call (SPEC §10), else nil.
    var grpcStatus: Int? = nil
    var bytesIn: Int64
    var bytesOut: Int64
    var durationMs: Double
    var upstreamMs: Double?
    var attempts: Int
    var error: String?
    /// The kinds of fault injected into the request's tries (SPEC §11), comma-separated; nil when none.
    var fault: String? = nil
    var requestID: String
    var traceID: String?
    var spanID: String?

    func json() -> String {
        var line = "{\"time\":\"\(Self.iso8601(self.time))\""
        line += ",\"client\":" + (self.client.map(JSON.quote) ?? "null")
        line += ",\"method\":" + JSON.quote(self.method)
        line += ",\"path\":" + JSON.quote(self.path)
        line += ",\"protocol\":" + (self.protocolVersion.isEmpty ? "null" : JSON.quote(self.protocolVersion))
        line += ",\"service\":" + (self.service.map(JSON.quote) ?? "null")
        line += ",\"endpoint\":" + (self.endpoint.map(JSON.quote) ?? "null")
        line += ",\"status\":\(self.status)"
        line += ",\"grpc_status\":" + (self.grpcStatus.map { String($0) } ?? "null")
        line += ",\"bytes_in\":\(self.bytesIn),\"bytes_out\":\(self.bytesOut)"
        line += ",\"duration_ms\":\(Self.millis(self.durationMs))"
        line += ",\"upstream_ms\":" + (self.upstreamMs.map(Self.millis) ?? "null")
        line += ",\"attempts\":\(self.attempts)"
        line += ",\"error\":" + (self.error.map(JSON.quote) ?? "null")
        line += ",\"fault\":" + (self.fault.map(JSON.quote) ?? "null")
        line += ",\"request_id\":" + JSON.quote(self.requestID)
        line += ",\"trace_id\":" + (self.traceID.map(JSON.quote) ?? "null")
        line += ",\"span_id\":" + (self.spanID.map(JSON.quote) ?? "null")
        line += "}"
        return line
    }

    static func millis(_ value: Double) -> String {
        let thousandths = Int64((value * 1000).rounded())
        let fraction = thousandths % 1000
        return "\(thousandths / 1000).\(fraction < 10 ? "00" : fraction < 100 ? "0" : "")\(fraction)"
    }

    /// `2026-11-25T09:30:00.123Z` without Foundation's formatters (this runs per request).
    static func iso8601(_ time: timespec) -> String {
        var seconds = time_t(time.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(time.tv_nsec / 1_000_000), 3))Z"
    }

    static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return time
    }
}
