import CCurl
import Foundation
import NIOConcurrencyHelpers
import NIOCore

/// One libcurl multi handle driven by one dedicated thread (LIBCURL.md, `man libcurl-thread`).
///
/// Event loops hand it commands through a locked queue and wake it with `curl_multi_wakeup`, once per batch. It hands
/// results back to each event loop in one `execute` per loop turn, so a burst of responses costs one wake-up.
///
/// Safety of `@unchecked Sendable`: `commands` is guarded by `lock`; `stopping` is an atomic-like flag written under
/// `lock`; every `curl*` property and the multi handle are used only by the worker thread (`run`), and the callbacks
/// libcurl invokes from within `curl_multi_perform` on that thread.
public final class CurlWorker: @unchecked Sendable {
    enum Command {
        case start(Transfer)
        case resumeReceive(Transfer)
        case resumeSend(Transfer)
        case cancel(Transfer)
    }

    let allocator = ByteBufferAllocator()
    private let multi: UnsafeMutableRawPointer
    private let lock = NIOLock()
    private var commands: [Command] = []
    private var stopping = false
    private let name: String
    private var thread: Thread?
    private let stopped = ConditionLock(value: 0)

    // === worker-thread confined ===
    var curlDirty: [Transfer] = []
    var curlLocalCommands: [Command] = []
    private var curlPool: [EasyHandle] = []
    private var curlHeadBuilders: [ResponseHeadBuilder] = []
    private var curlActive = 0

    /// Creates a worker with its own multi handle; call `start()` to run its thread.
    public init(name: String) {
        precondition(Curl.initialized, "curl_global_init failed")
        self.multi = curl_multi_init()!
        self.name = name
        // Keep a warm pool of upstream connections; HTTP/1.1 only, no multiplexing attempts.
        _ = ccurl_multi_setopt_long(self.multi, CURLMOPT_MAXCONNECTS, 1024)
        _ = ccurl_multi_setopt_long(self.multi, CURLMOPT_PIPELINING, 0)
    }

    /// Starts the worker thread.
    public func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = self.name
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    /// Stops the thread after abandoning any transfer still running, and waits for it to exit.
    public func shutdown() {
        let started = self.lock.withLock { () -> Bool in
            self.stopping = true
            return self.thread != nil
        }
        curl_multi_wakeup(self.multi)
        if started {
            self.stopped.lock(whenValue: 1)
            self.stopped.unlock()
        }
    }

    func submit(_ command: Command) {
        let wake = self.lock.withLock { () -> Bool in
            self.commands.append(command)
            return self.commands.count == 1
        }
        if wake { curl_multi_wakeup(self.multi) }
    }

    // === impl CurlWorker: worker thread ===

    private func run() {
        var pending: [Command] = []
        pending.reserveCapacity(64)
        while true {
            let stop = self.lock.withLock { () -> Bool in
                swap(&pending, &self.commands)
                return self.stopping
            }
            if stop { break }
            for command in pending { self.apply(command) }
            pending.removeAll(keepingCapacity: true)
            self.perform()
            // A command queued by a callback (resume after a lost race) is applied right away.
            while !self.curlLocalCommands.isEmpty {
                let local = self.curlLocalCommands
                self.curlLocalCommands.removeAll()
                for command in local { self.apply(command) }
                self.perform()
            }
            self.flush()
            var ready: Int32 = 0
            curl_multi_poll(self.multi, nil, 0, 1000, &ready)
        }
        // Abandon what is left: its clients are being closed by the server shutdown.
        pending = self.lock.withLock { self.commands }
        for command in pending {
            if case .start(let transfer) = command { self.fail(transfer, code: CURLE_ABORTED_BY_CALLBACK) }
        }
        curl_multi_cleanup(self.multi)
        self.curlPool.removeAll()
        self.curlHeadBuilders.removeAll()
        // The thread's closure holds the worker and the worker holds the thread: break the cycle so both are
        // freed once the server lets go of the worker. `shutdown` read `thread` before asking to stop.
        self.lock.withLock { self.thread = nil }
        self.stopped.lock()
        self.stopped.unlock(withValue: 1)
    }

    private func perform() {
        var running: Int32 = 0
        curl_multi_perform(self.multi, &running)
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
        guard let easy = self.curlPool.popLast() ?? EasyHandle() else {
            self.fail(transfer, code: CURLE_OUT_OF_MEMORY)
            return
        }
        transfer.curlEasy = easy
        if let builder = self.curlHeadBuilders.popLast() { transfer.curlHead = builder }
        transfer.curlHead.framing = transfer.curlRequest.framing
        transfer.curlHead.allocator = self.allocator
        let opaque = Unmanaged.passRetained(transfer).toOpaque()
        transfer.curlRetained = true
        let request = transfer.curlRequest
        let handle = easy.handle
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_PRIVATE, opaque)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, easy.errorBuffer)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        // One receive buffer of 64 KiB (curl's default is 16 KiB): a 16 KiB body plus its head in one read.
        _ = ccurl_easy_setopt_long(handle, CURLOPT_BUFFERSIZE, 64 * 1024)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        _ = ccurl_easy_setopt_string(handle, CURLOPT_URL, request.baseURL)
        _ = ccurl_easy_setopt_string(handle, CURLOPT_REQUEST_TARGET, request.target)
        _ = ccurl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        _ = ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, request.headers)
        // Never decode content-encoding, never follow redirects (SPEC §4).
        _ = ccurl_easy_setopt_long(handle, CURLOPT_HTTP_CONTENT_DECODING, 0)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        if request.framing.isHead { _ = ccurl_easy_setopt_long(handle, CURLOPT_NOBODY, 1) }
        switch request.body {
        case .none:
            break
        case .length(let length):
            _ = ccurl_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
            _ = ccurl_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
        case .chunked:
            _ = ccurl_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
        }
        if request.body != .none {
            _ = ccurl_easy_setopt_callback(handle, CURLOPT_READFUNCTION, transferReadCallback)
            _ = ccurl_easy_setopt_pointer(handle, CURLOPT_READDATA, opaque)
        }
        _ = ccurl_easy_setopt_callback(handle, CURLOPT_HEADERFUNCTION, transferHeaderCallback)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, opaque)
        _ = ccurl_easy_setopt_callback(handle, CURLOPT_WRITEFUNCTION, transferWriteCallback)
        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
        _ = ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeoutMs))
        if request.requestTimeoutMs > 0 {
            _ = ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.requestTimeoutMs))
        }
        if let path = request.unixSocketPath {
            _ = ccurl_easy_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, path)
        }
        if !request.tlsVerify {
            _ = ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            _ = ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        }
        if let ca = request.tlsCAFile { _ = ccurl_easy_setopt_string(handle, CURLOPT_CAINFO, ca) }
        let code = curl_multi_add_handle(self.multi, handle)
        if code != CURLM_OK {
            self.complete(transfer, result: CURLE_FAILED_INIT)
            return
        }
        self.curlActive += 1
    }

    /// Records a transfer's end and queues its completion for its event loop.
    private func complete(_ transfer: Transfer, result: CURLcode) {
        guard let easy = transfer.curlEasy else { return }
        var connectTime: curl_off_t = 0
        _ = ccurl_easy_getinfo_off_t(easy.handle, CURLINFO_CONNECT_TIME_T, &connectTime)
        let message = easy.errorMessage.isEmpty ? String(cString: curl_easy_strerror(result)) : easy.errorMessage
        let started = transfer.curlFraming != nil
        if result == CURLE_OK && started {
            if transfer.curlFraming == .chunked {
                "0\r\n\r\n".utf8.withContiguousStorageIfAvailable {
                    transfer.curlAppendOutput(UnsafeRawBufferPointer($0))
                }
            }
            var held: ByteBuffer?
            if transfer.curlHolding {
                held = transfer.curlOutput ?? self.allocator.buffer(capacity: 0)
                transfer.curlOutput = nil
            }
            transfer.curlCompletion = .finished(status: transfer.curlStatus, close: transfer.curlCloseAfter, held: held)
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
        self.curlActive -= 1
        transfer.curlRetained = false
        transfer.curlEasy = nil
        if let headers = transfer.curlRequest.headers {
            curl_slist_free_all(headers)
            transfer.curlRequest.headers = nil
        }
        easy.reset()
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
                transfer.backlog.wrappingIncrement(by: output.readableBytes, ordering: .sequentiallyConsistent)
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
            guard let sink = transfer.sink else { continue }
            if let output = item.output { sink.transfer(transfer, didProduce: output) }
            if item.resumeReading { sink.transferWantsMoreBody(transfer) }
            guard let completion = item.completion, let sink = transfer.sink else { continue }
            transfer.sink = nil
            switch completion {
            case .finished(let status, let close, let held):
                if let held {
                    transfer.backlog.wrappingIncrement(by: held.readableBytes, ordering: .sequentiallyConsistent)
                }
                sink.transferDidFinish(transfer, status: status, closeConnection: close, held: held)
            case .failed(let error, let started):
                sink.transfer(transfer, didFail: error, responseStarted: started)
            }
        }
    }
}
