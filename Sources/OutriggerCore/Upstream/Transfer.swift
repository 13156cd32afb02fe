import CCurl
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// One upstream exchange driven by a curl worker and consumed by a connection's event loop.
///
/// Safety of `@unchecked Sendable`: every stored property is one of
/// - immutable after `init` (`eventLoop`, `worker`, `service`, `endpoint`);
/// - confined to the curl worker thread (the `curl*` properties): touched only from the worker loop and from libcurl
///   callbacks, which libcurl runs inside `curl_multi_perform` on that thread;
/// - confined to `eventLoop` (`sink`, `cancelled`): touched only in handler code and in the batch closures the
///   worker submits with `eventLoop.execute`;
/// - atomics and a lock-protected upload queue (`backlog`, `clientBlocked`, `recvPaused`, `upload`), the only state
///   both sides touch.
final class Transfer: UpstreamCall, @unchecked Sendable {
    /// Upload queue shared by the event loop (producer) and the curl thread (consumer).
    struct UploadState {
        var queue = CircularBuffer<ByteBuffer>()
        var bytes = 0
        var ended = false
        /// The read callback returned PAUSE: the producer must ask the worker to resume sending.
        var sendPaused = false
        /// The event loop stopped reading from the client because the queue was full.
        var readingStopped = false
    }

    /// How a transfer ended, as seen on the curl thread.
    enum Completion {
        case finished(status: Int, close: Bool, held: ByteBuffer?, grpcStatus: Int?)
        case failed(OutriggerError, responseStarted: Bool)
        /// A connect-only transfer's connection: the descriptor now belongs to the sink.
        case connected(Int32)
    }

    /// Bytes above which the upload queue stops client reads, and below which they resume.
    static let uploadHighWater = 256 * 1024
    static let uploadLowWater = 64 * 1024
    /// Bytes handed to the event loop but not yet written to the client, above which curl pauses receiving.
    static let backlogHighWater = 512 * 1024
    static let backlogLowWater = 128 * 1024
    /// A held (retryable) response larger than this is streamed after all, and then not retried.
    static let holdLimit = 64 * 1024

    let eventLoop: any EventLoop
    let worker: CurlWorker
    let service: String
    let endpoint: String

    // === event-loop confined ===
    var sink: (any TransferSink)?
    var cancelled = false

    // === curl-thread confined ===
    var curlRequest: UpstreamRequest
    var curlEasy: EasyHandle?
    var curlHead = ResponseHeadBuilder()
    var curlFraming: ResponseHeadBuilder.BodyFraming?
    var curlStatus = 0
    /// Trailer lines after a chunked body (`name: value\r\n` each), passed on in the last chunk.
    var curlTrailers: [UInt8] = []
    /// `grpc-status` from the head (trailers-only answers) or the trailers.
    var curlGRPCStatus: Int?
    var curlCloseAfter = false
    var curlOutput: ByteBuffer?
    var curlCompletion: Completion?
    var curlResumeReading = false
    var curlDirty = false
    var curlPauseBits: Int32 = 0
    var curlHeadError: HeadError?
    var curlRetained = false
    /// The response's status is one to hold back until it is complete.
    var curlHolding = false

    // === shared ===
    // The atomics are stored inline (Synchronization's `Atomic`), not as objects of their own. The upload queue
    // keeps NIO's pthread-based lock: ThreadSanitizer cannot see the ordering Synchronization's futex-based `Mutex`
    // gives, and would report every upload.
    let backlog = Synchronization.Atomic<Int>(0)
    let clientBlocked = Synchronization.Atomic<Bool>(false)
    let recvPaused = Synchronization.Atomic<Bool>(false)
    let upload = NIOLockedValueBox(UploadState())
    /// When a byte last moved to or from the upstream (or the client caught up), in uptime nanoseconds: written by
    /// the curl callbacks and the loop, read by the loop's `idle_timeout` check (SPEC §17). Relaxed: a stale read
    /// only makes the check re-arm and look again.
    private let lastActivity: Synchronization.Atomic<UInt64>

    /// Whether `idle_timeout` applies, so bytes moving are timestamped (a clock read each), or not at all.
    let measuresIdle: Bool

    init(
        request: UpstreamRequest, eventLoop: any EventLoop, worker: CurlWorker, service: String, endpoint: String,
        measuresIdle: Bool
    ) {
        self.measuresIdle = measuresIdle
        self.lastActivity = Synchronization.Atomic(eventLoop.now.uptimeNanoseconds)
        self.curlRequest = request
        self.eventLoop = eventLoop
        self.worker = worker
        self.service = service
        self.endpoint = endpoint
    }

    deinit {
        // Normally freed by the worker when the transfer ends; a transfer never started (a worker stopping, or one
        // that never ran) still owns its header list. No other reference exists here, so no thread races this.
        CurlHeaderList.free(self.curlRequest.headers)
    }

    /// When a byte last moved to or from the upstream, in uptime nanoseconds.
    var lastActivityNs: UInt64 { self.lastActivity.load(ordering: .relaxed) }

    /// Bytes moved at `now` (the event loop's clock; the curl thread reads the same monotonic clock): the idle
    /// clock starts again.
    func touch(now: NIODeadline) {
        guard self.measuresIdle else { return }
        self.lastActivity.store(now.uptimeNanoseconds, ordering: .relaxed)
    }

    /// Bytes moved just now (curl callbacks): the clock is read only when `idle_timeout` applies.
    func touch() {
        guard self.measuresIdle else { return }
        self.lastActivity.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed)
    }

    // === impl Transfer: event-loop side ===

    /// Queues request body bytes; returns true when the caller should stop reading from the client.
    func appendBody(_ buffer: ByteBuffer) -> Bool {
        let (resume, stop) = self.upload.withLockedValue { state -> (Bool, Bool) in
            state.queue.append(buffer)
            state.bytes += buffer.readableBytes
            let resume = state.sendPaused
            state.sendPaused = false
            let stop = state.bytes > Self.uploadHighWater
            if stop { state.readingStopped = true }
            return (resume, stop)
        }
        if resume { self.worker.submit(.resumeSend(self)) }
        return stop
    }

    /// Marks the request body complete.
    func endBody() {
        let resume = self.upload.withLockedValue { state -> Bool in
            state.ended = true
            let resume = state.sendPaused
            state.sendPaused = false
            return resume
        }
        if resume { self.worker.submit(.resumeSend(self)) }
    }

    /// Called after `bytes` handed over by `didProduce` were written to the client channel.
    func consumed(_ bytes: Int) {
        self.backlog.wrappingSubtract(bytes, ordering: .sequentiallyConsistent)
        self.resumeReceivingIfPossible()
    }

    /// The client channel's writability changed: a blocked client pauses the upstream (backpressure, SPEC §4).
    func clientWritabilityChanged(writable: Bool) {
        self.clientBlocked.store(!writable, ordering: .sequentiallyConsistent)
        if writable {
            self.touch(now: self.eventLoop.now)  // the client took bytes: the exchange is not idle
            self.resumeReceivingIfPossible()
        }
    }

    private func resumeReceivingIfPossible() {
        guard !self.clientBlocked.load(ordering: .sequentiallyConsistent),
            self.backlog.load(ordering: .sequentiallyConsistent) <= Self.backlogLowWater
        else { return }
        if self.recvPaused.exchange(false, ordering: .sequentiallyConsistent) {
            self.worker.submit(.resumeReceive(self))
        }
    }

    /// Abandons the exchange (client gone); no further events are delivered.
    func cancel() {
        guard !self.cancelled else { return }
        self.cancelled = true
        self.sink = nil
        self.worker.submit(.cancel(self))
    }

    // === impl Transfer: curl-thread side ===

    /// Whether the write callback must hold back: the client is slow or the loop has not caught up.
    var curlShouldPauseReceive: Bool {
        self.clientBlocked.load(ordering: .sequentiallyConsistent)
            || self.backlog.load(ordering: .sequentiallyConsistent) + (self.curlOutput?.readableBytes ?? 0)
                > Self.backlogHighWater
    }

    func curlMarkDirty() {
        if !self.curlDirty {
            self.curlDirty = true
            self.worker.curlDirty.append(self)
        }
    }

    func curlAppendOutput(_ bytes: UnsafeRawBufferPointer) {
        if self.curlOutput == nil {
            self.curlOutput = self.worker.allocator.buffer(capacity: max(bytes.count + 16, 1024))
        }
        self.curlOutput!.writeBytes(bytes)
        self.curlMarkDirty()
    }
}
