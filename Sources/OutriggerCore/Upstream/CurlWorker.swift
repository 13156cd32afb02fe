import CCurl
import Glibc
import NIOConcurrencyHelpers
import NIOCore

/// One libcurl multi handle driven by one dedicated thread through libcurl's multi-socket interface.
///
/// The thread sleeps in `epoll_wait` on the sockets libcurl asks it to watch (`CURLMOPT_SOCKETFUNCTION`), curl's
/// next timeout (`CURLMOPT_TIMERFUNCTION`) and an eventfd the event loops signal; each ready socket costs one
/// `curl_multi_socket_action` for that socket alone, never a walk over every transfer (docs/engine.md).
///
/// Event loops hand it commands through a locked queue and signal the eventfd once per batch. It hands results
/// back to each event loop in one `execute` per loop turn, so a burst of responses costs one wake-up.
///
/// Safety of `@unchecked Sendable`: `commands` and `stopping` are guarded by `lock`; every `curl*` property, the
/// multi handle and the epoll set are used only by the worker thread (`run`) and by the callbacks libcurl invokes
/// from within `curl_multi_socket_action`, `curl_multi_add_handle` and `curl_easy_pause` on that thread.
public final class CurlWorker: @unchecked Sendable {
    enum Command {
        case start(Transfer)
        case resumeReceive(Transfer)
        case resumeSend(Transfer)
        case cancel(Transfer)
    }

    let allocator = ByteBufferAllocator()
    private let multi: UnsafeMutableRawPointer
    private let epoll: Int32
    private let wakeFD: Int32
    private let lock = NIOLock()
    private var commands: [Command] = []
    private var stopping = false
    private let name: String
    private var thread: NativeThread?

    // === worker-thread confined ===
    var curlDirty: [Transfer] = []
    var curlLocalCommands: [Command] = []
    private var curlPool: [EasyHandle] = []
    private var curlHeadBuilders: [ResponseHeadBuilder] = []
    /// Transfers added to the multi handle, so a shutdown can release those still running.
    private var curlActive: [ObjectIdentifier: Transfer] = [:]
    /// What epoll watches and what curl wants, per socket (`SocketWatch`), indexed by descriptor.
    var curlSockets: [SocketWatch] = []
    /// When curl wants `CURL_SOCKET_TIMEOUT`, in uptime nanoseconds; nil when it set no timer.
    var curlTimerDeadline: UInt64?
    /// The multi handle was cleaned up at the end of `run` (read by `deinit`, after the thread was joined).
    private var curlCleanedUp = false

    /// Creates a worker with its own multi handle and epoll set; call `start()` to run its thread.
    public init(name: String) {
        precondition(Curl.initialized, "curl_global_init failed")
        self.multi = curl_multi_init()!
        self.epoll = ccurl_epoll_create()
        self.wakeFD = ccurl_eventfd()
        precondition(self.epoll >= 0 && self.wakeFD >= 0, "epoll or eventfd unavailable: \(errno)")
        precondition(ccurl_epoll_set(self.epoll, self.wakeFD, 1, 0, 1) == 0, "epoll_ctl failed: \(errno)")
        self.name = name
        // Keep a warm pool of upstream connections; HTTP/2 connections carry many streams (SPEC §10).
        _ = ccurl_multi_setopt_long(self.multi, CURLMOPT_MAXCONNECTS, 1024)
        _ = ccurl_multi_setopt_long(self.multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        let opaque = Unmanaged.passUnretained(self).toOpaque()
        _ = ccurl_multi_setopt_socketfunction(self.multi, workerSocketCallback)
        _ = ccurl_multi_setopt_pointer(self.multi, CURLMOPT_SOCKETDATA, opaque)
        _ = ccurl_multi_setopt_timerfunction(self.multi, workerTimerCallback)
        _ = ccurl_multi_setopt_pointer(self.multi, CURLMOPT_TIMERDATA, opaque)
    }

    deinit {
        // A worker whose thread never ran still owns its multi handle.
        if !self.curlCleanedUp { curl_multi_cleanup(self.multi) }
        close(self.epoll)
        close(self.wakeFD)
    }

    /// Starts the worker thread.
    public func start() {
        let thread = NativeThread(name: self.name) { [self] in self.run() }
        self.lock.withLock { self.thread = thread }
    }

    /// Stops the thread after abandoning any transfer still running, and waits for it to exit.
    public func shutdown() {
        let thread = self.lock.withLock { () -> NativeThread? in
            self.stopping = true
            defer { self.thread = nil }
            return self.thread
        }
        ccurl_eventfd_signal(self.wakeFD)
        thread?.join()
        // Commands left to a worker that never ran: drop them, and the transfers they hold (a transfer holds its
        // worker, so a queued one would keep both alive).
        self.lock.withLock { self.commands.removeAll() }
    }

    func submit(_ command: Command) {
        let wake = self.lock.withLock { () -> Bool in
            self.commands.append(command)
            return self.commands.count == 1
        }
        if wake { ccurl_eventfd_signal(self.wakeFD) }
    }

    // === impl CurlWorker: worker thread ===

    private func run() {
        var pending: [Command] = []
        pending.reserveCapacity(64)
        var fds = [Int32](repeating: 0, count: 64)
        var flags = [Int32](repeating: 0, count: 64)
        while true {
            let stop = self.lock.withLock { () -> Bool in
                swap(&pending, &self.commands)
                return self.stopping
            }
            if stop { break }
            for command in pending { self.apply(command) }
            pending.removeAll(keepingCapacity: true)
            self.runDueTimer()
            // A command queued by a callback (resume after a lost race) is applied right away.
            while !self.curlLocalCommands.isEmpty {
                let local = self.curlLocalCommands
                self.curlLocalCommands.removeAll()
                for command in local { self.apply(command) }
                self.runDueTimer()
            }
            self.readCompletions()
            self.flush()
            let count = fds.withUnsafeMutableBufferPointer { fds in
                flags.withUnsafeMutableBufferPointer { flags in
                    ccurl_epoll_wait(
                        self.epoll, fds.baseAddress, flags.baseAddress, Int32(fds.count), self.waitMilliseconds())
                }
            }
            for index in 0..<max(0, Int(count)) {
                let fd = fds[index]
                if fd == self.wakeFD {
                    ccurl_eventfd_drain(fd)
                } else {
                    self.socketReady(fd, flags: flags[index])
                }
            }
        }
        // Abandon what is left: its clients are being closed by the server shutdown. Cancels still queued are
        // applied, transfers not started fail, and every transfer still running is released, so none is leaked.
        pending += self.lock.withLock { self.commands }
        for command in pending {
            switch command {
            case .start(let transfer): self.fail(transfer, code: CURLE_ABORTED_BY_CALLBACK)
            case .cancel: self.apply(command)
            case .resumeReceive, .resumeSend: break
            }
        }
        for transfer in Array(self.curlActive.values) { self.release(transfer) }
        curl_multi_cleanup(self.multi)
        self.curlCleanedUp = true
        self.curlPool.removeAll()
        self.curlHeadBuilders.removeAll()
    }

    /// How long epoll may sleep: until curl's timer, or until a socket or the eventfd wakes it.
    private func waitMilliseconds() -> Int32 {
        guard let deadline = self.curlTimerDeadline else { return -1 }
        let now = NIODeadline.now().uptimeNanoseconds
        guard deadline > now else { return 0 }
        return Int32(min((deadline - now + 999_999) / 1_000_000, 60_000))
    }

    /// Tells curl its timeout passed, when it has.
    private func runDueTimer() {
        guard let deadline = self.curlTimerDeadline, deadline <= NIODeadline.now().uptimeNanoseconds else { return }
        self.curlTimerDeadline = nil
        var running: Int32 = 0
        _ = ccurl_multi_socket_action(self.multi, ccurl_socket_timeout(), 0, &running)
        self.readCompletions()
    }

    /// One socket is ready: curl handles that socket alone, or epoll stops watching one curl no longer wants.
    private func socketReady(_ fd: Int32, flags: Int32) {
        let index = Int(fd)
        if index < self.curlSockets.count, self.curlSockets[index].wanted == 0 {
            // An idle pooled connection became readable (the upstream closed it): curl checks it before reuse.
            _ = ccurl_epoll_remove(self.epoll, fd)
            self.curlSockets[index].watched = 0
            return
        }
        var running: Int32 = 0
        _ = ccurl_multi_socket_action(self.multi, fd, flags, &running)
        self.readCompletions()
    }

    /// CURLMOPT_SOCKETFUNCTION: curl wants `fd` watched for `what`, or no longer (`CURL_POLL_REMOVE`).
    ///
    /// A removed socket stays in the epoll set while it lives: when curl reuses the pooled connection, wanting it
    /// again for the same direction costs no `epoll_ctl`. A new socket starts clean (`curlSocketOpened`).
    func curlWatch(_ fd: Int32, what: Int32) {
        let index = Int(fd)
        if index >= self.curlSockets.count {
            self.curlSockets.append(contentsOf: repeatElement(SocketWatch(), count: index + 1 - self.curlSockets.count))
        }
        if what == ccurl_poll_remove() {
            self.curlSockets[index].wanted = 0
            return
        }
        let wanted = UInt8(truncatingIfNeeded: what & (ccurl_poll_in() | ccurl_poll_out()))
        self.curlSockets[index].wanted = wanted
        let watched = self.curlSockets[index].watched
        if watched != 0 && watched & SocketWatch.directions == wanted { return }
        let input: Int32 = wanted & UInt8(ccurl_poll_in()) != 0 ? 1 : 0
        let output: Int32 = wanted & UInt8(ccurl_poll_out()) != 0 ? 1 : 0
        if ccurl_epoll_set(self.epoll, fd, input, output, watched == 0 ? 1 : 0) == 0 {
            self.curlSockets[index].watched = wanted | SocketWatch.registered
        }
    }

    /// CURLOPT_OPENSOCKETFUNCTION saw a new socket: whatever was known of an earlier socket with its number is void
    /// (closing a socket drops it from the epoll set).
    func curlSocketOpened(_ fd: Int32) {
        let index = Int(fd)
        if index < self.curlSockets.count { self.curlSockets[index] = SocketWatch() }
    }

    /// CURLMOPT_TIMERFUNCTION: curl's single timeout moved (-1: none).
    func curlSetTimer(milliseconds: Int) {
        self.curlTimerDeadline =
            milliseconds < 0 ? nil : NIODeadline.now().uptimeNanoseconds + UInt64(milliseconds) * 1_000_000
    }

    private func readCompletions() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let result = message.pointee.data.result
            var pointer: UnsafeMutableRawPointer?
            _ = ccurl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &pointer)
            guard let pointer else { continue }
            let transfer = Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue()
            self.complete(transfer, result: result)
        }
    }

    private func apply(_ command: Command) {
        switch command {
        case .start(let transfer):
            self.begin(transfer)
        case .resumeReceive(let transfer):
            guard let easy = transfer.curlEasy, transfer.curlRetained else { return }
            transfer.curlPauseBits &= ~Int32(ccurl_pause_recv())
            curl_easy_pause(easy.handle, transfer.curlPauseBits)
        case .resumeSend(let transfer):
            guard let easy = transfer.curlEasy, transfer.curlRetained else { return }
            transfer.curlPauseBits &= ~Int32(ccurl_pause_send())
            curl_easy_pause(easy.handle, transfer.curlPauseBits)
        case .cancel(let transfer):
            guard transfer.curlRetained else { return }
            self.release(transfer)
        }
    }

    private func begin(_ transfer: Transfer) {
        guard let easy = self.curlPool.popLast() ?? EasyHandle(worker: Unmanaged.passUnretained(self).toOpaque())
        else {
            self.fail(transfer, code: CURLE_OUT_OF_MEMORY)
            return
        }
        transfer.curlEasy = easy
        if let builder = self.curlHeadBuilders.popLast() { transfer.curlHead = builder }
        transfer.curlHead.framing = transfer.curlRequest.framing
        transfer.curlHead.allocator = self.allocator
        let opaque = Unmanaged.passRetained(transfer).toOpaque()
        transfer.curlRetained = true
        easy.prepare(transfer.curlRequest, transfer: opaque)
        let handle = easy.handle
        let code = curl_multi_add_handle(self.multi, handle)
        if code != CURLM_OK {
            self.complete(transfer, result: CURLE_FAILED_INIT)
            return
        }
        self.curlActive[ObjectIdentifier(transfer)] = transfer
    }

    /// Records a transfer's end and queues its completion for its event loop.
    private func complete(_ transfer: Transfer, result: CURLcode) {
        guard let easy = transfer.curlEasy else { return }
        var connectTime: curl_off_t = 0
        _ = ccurl_easy_getinfo_off_t(easy.handle, CURLINFO_CONNECT_TIME_T, &connectTime)
        let message = easy.errorMessage.isEmpty ? String(cString: curl_easy_strerror(result)) : easy.errorMessage
        let started = transfer.curlFraming != nil
        if result == CURLE_OK && transfer.curlRequest.connectOnly {
            // Duplicated before the handle leaves the multi, which closes curl's own descriptor at once.
            var curlFD: Int32 = -1
            let fd = ccurl_take_connected_socket(easy.handle, &curlFD)
            if curlFD >= 0 {
                // An epoll registration belongs to the open socket, not to the number: left in the set, the
                // socket NIO now reads would wake this worker for every byte, long after curl closed its copy.
                _ = ccurl_epoll_remove(self.epoll, curlFD)
                if Int(curlFD) < self.curlSockets.count { self.curlSockets[Int(curlFD)] = SocketWatch() }
            }
            transfer.curlCompletion =
                fd >= 0
                ? .connected(fd)
                : .failed(
                    OutriggerError(
                        .upstreamConnectFailed, "could not take over the upstream connection",
                        service: transfer.service,
                        detail: "dup: errno \(errno)"), responseStarted: false)
        } else if result == CURLE_OK && started {
            if transfer.curlFraming == .chunked {
                // The last chunk, with the upstream's trailers (gRPC's grpc-status among them).
                ChunkedFraming.lastChunk(trailers: transfer.curlTrailers).withUnsafeBytes {
                    transfer.curlAppendOutput($0)
                }
                transfer.curlTrailers = []
            }
            var held: ByteBuffer?
            if transfer.curlHolding {
                held = transfer.curlOutput ?? self.allocator.buffer(capacity: 0)
                transfer.curlOutput = nil
            }
            transfer.curlCompletion = .finished(
                status: transfer.curlStatus, close: transfer.curlCloseAfter, held: held,
                grpcStatus: transfer.curlGRPCStatus)
        } else {
            var error: OutriggerError
            if transfer.curlHeadError != nil || (result == CURLE_OK && !started) {
                error = OutriggerError(
                    .upstreamProtocolError, "the upstream sent a malformed response", service: transfer.service,
                    detail: "bad header block: \(String(describing: transfer.curlHeadError))")
            } else {
                error =
                    CurlErrorMapping.error(
                        for: result, connected: connectTime > 0, message: message, service: transfer.service)
                    ?? OutriggerError(.upstreamReset, "the upstream exchange failed", service: transfer.service)
            }
            transfer.curlCompletion = .failed(error, responseStarted: started)
        }
        transfer.curlMarkDirty()
        self.release(transfer)
    }

    private func fail(_ transfer: Transfer, code: CURLcode) {
        let error =
            CurlErrorMapping.error(for: code, connected: false, message: "", service: transfer.service)
            ?? OutriggerError(
                .upstreamConnectFailed, "could not start the upstream exchange", service: transfer.service)
        transfer.curlCompletion = .failed(error, responseStarted: false)
        transfer.curlMarkDirty()
        self.flush()
    }

    /// Removes the handle from the multi, returns it to the pool and drops the callbacks' reference.
    private func release(_ transfer: Transfer) {
        guard transfer.curlRetained, let easy = transfer.curlEasy else { return }
        curl_multi_remove_handle(self.multi, easy.handle)
        self.curlActive[ObjectIdentifier(transfer)] = nil
        transfer.curlRetained = false
        transfer.curlEasy = nil
        if let headers = transfer.curlRequest.headers {
            CurlHeaderList.free(headers)
            transfer.curlRequest.headers = nil
        }
        easy.finish()
        if self.curlPool.count < 256 { self.curlPool.append(easy) }
        Unmanaged.passUnretained(transfer).release()
    }

    /// Returns a transfer's header builder (and its buffers) to the pool once its head is complete.
    func recycleHeadBuilder(of transfer: Transfer) {
        var builder = transfer.curlHead
        transfer.curlHead = ResponseHeadBuilder()
        builder.recycle()
        if self.curlHeadBuilders.count < 256 { self.curlHeadBuilders.append(builder) }
    }

    /// Hands every pending event to its event loop: one `execute` per loop per turn.
    private func flush() {
        guard !self.curlDirty.isEmpty else { return }
        var batches: [(loop: any EventLoop, items: [TransferDelivery])] = []
        for transfer in self.curlDirty {
            transfer.curlDirty = false
            var holdNow = false
            if transfer.curlHolding, let pending = transfer.curlOutput, transfer.curlCompletion == nil {
                if pending.readableBytes <= Transfer.holdLimit {
                    holdNow = true  // keep holding: the bytes stay here until the response is complete
                } else {
                    transfer.curlHolding = false  // too big to hold: stream it, and it will not be retried
                }
            }
            if holdNow && !transfer.curlResumeReading { continue }
            let output = holdNow ? nil : transfer.curlOutput
            if !holdNow { transfer.curlOutput = nil }
            if let output {
                transfer.backlog.wrappingAdd(output.readableBytes, ordering: .sequentiallyConsistent)
            }
            let delivery = TransferDelivery(
                transfer: transfer, output: output, resumeReading: transfer.curlResumeReading,
                completion: transfer.curlCompletion)
            transfer.curlResumeReading = false
            transfer.curlCompletion = nil
            if let index = batches.firstIndex(where: { $0.loop === transfer.eventLoop }) {
                batches[index].items.append(delivery)
            } else {
                batches.append((transfer.eventLoop, [delivery]))
            }
        }
        self.curlDirty.removeAll(keepingCapacity: true)
        for batch in batches {
            let items = batch.items
            batch.loop.execute { TransferDelivery.deliver(items) }
        }
    }
}

/// What one transfer has for its event loop after a worker turn.
struct TransferDelivery: @unchecked Sendable {
    // Safety: `output` is a ByteBuffer handed over whole (no other reference keeps writing to it); `completion`
    // holds only Sendable values; `transfer` is Sendable.
    let transfer: Transfer
    let output: ByteBuffer?
    let resumeReading: Bool
    let completion: Transfer.Completion?

    /// Runs on the transfer's event loop.
    static func deliver(_ items: [TransferDelivery]) {
        for item in items {
            let transfer = item.transfer
            guard let sink = transfer.sink else {
                if case .connected(let fd) = item.completion { close(fd) }  // nobody wants the connection any more
                continue
            }
            if let output = item.output { sink.transfer(transfer, didProduce: output) }
            if item.resumeReading { sink.transferWantsMoreBody(transfer) }
            guard let completion = item.completion else { continue }
            guard let sink = transfer.sink else {
                if case .connected(let fd) = completion { close(fd) }
                continue
            }
            transfer.sink = nil
            switch completion {
            case .finished(let status, let close, let held, let grpcStatus):
                if let held {
                    transfer.backlog.wrappingAdd(held.readableBytes, ordering: .sequentiallyConsistent)
                }
                sink.transferDidFinish(
                    transfer, status: status, closeConnection: close, held: held, grpcStatus: grpcStatus)
            case .failed(let error, let started):
                sink.transfer(transfer, didFail: error, responseStarted: started)
            case .connected(let fd):
                sink.transfer(transfer, didConnect: fd)
            }
        }
    }
}
