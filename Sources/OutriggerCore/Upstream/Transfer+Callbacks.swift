import CCurl
import NIOCore

// libcurl callbacks. They run on the curl worker thread inside curl_multi_perform (or curl_easy_pause), receive the
// transfer through the retained opaque pointer, and must never block or remove the handle (LIBCURL.md).

/// CURLOPT_HEADERFUNCTION: one header line at a time, status lines included.
let transferHeaderCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let length = size * count
    guard let buffer, let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    transfer.touch()
    let line = UnsafeRawBufferPointer(start: buffer, count: length)
    if let framing = transfer.curlFraming {
        // Trailers after the body: passed on in the last chunk when the client's response is chunked (an HTTP/2
        // client gets them as trailers); grpc-status is read in any case.
        transfer.curlTakeTrailer(line, forward: framing == .chunked)
        return length
    }
    switch transfer.curlHead.feed(line: line) {
    case .none:
        return length
    case .failure(let error):
        transfer.curlHeadError = error
        return 0  // aborts the transfer with CURLE_WRITE_ERROR; mapped to upstream_protocol_error.
    case .success(let head):
        transfer.curlFraming = head.framing
        transfer.curlStatus = head.status
        transfer.curlCloseAfter = head.closeConnection
        transfer.curlGRPCStatus = head.grpcStatus
        transfer.curlHolding =
            transfer.curlRequest.holdStatuses.contains(head.status)
            || (head.grpcStatus == 14 && transfer.curlRequest.holdsGRPCUnavailable)
        if transfer.curlOutput == nil {
            transfer.curlOutput = head.bytes
            transfer.curlMarkDirty()
        } else {
            head.bytes.withUnsafeReadableBytes { transfer.curlAppendOutput($0) }
        }
        transfer.worker.recycleHeadBuilder(of: transfer)
        return length
    }
}

private let crlf: StaticString = "\r\n"

/// CURLOPT_WRITEFUNCTION: response body bytes, transfer-decoding done by curl, content-encoding untouched.
let transferWriteCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let length = size * count
    guard let buffer, let userdata else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    guard let framing = transfer.curlFraming else { return 0 }
    if length == 0 { return 0 }
    transfer.touch()
    if transfer.curlShouldPauseReceive {
        // Backpressure: curl keeps this chunk and delivers it again after resume, so nothing is consumed here.
        transfer.recvPaused.store(true, ordering: .sequentiallyConsistent)
        transfer.curlPauseBits |= Int32(ccurl_pause_recv())
        if !transfer.curlShouldPauseReceive && transfer.recvPaused.exchange(false, ordering: .sequentiallyConsistent) {
            // The client caught up between the check and the flag: resume on the next loop turn.
            transfer.worker.curlLocalCommands.append(.resumeReceive(transfer))
        }
        return ccurl_writefunc_pause()
    }
    let bytes = UnsafeRawBufferPointer(start: buffer, count: length)
    switch framing {
    case .none:
        break
    case .contentLength, .closeDelimited:
        transfer.curlAppendOutput(bytes)
    case .chunked:
        ChunkedFraming.withSizeLine(length) { transfer.curlAppendOutput($0) }
        transfer.curlAppendOutput(bytes)
        crlf.withUTF8Buffer { transfer.curlAppendOutput(UnsafeRawBufferPointer($0)) }
    }
    return length
}

/// CURLOPT_READFUNCTION: request body bytes from the upload queue, or PAUSE until the client sends more.
let transferReadCallback: ccurl_data_callback = { buffer, size, count, userdata in
    let capacity = size * count
    guard let buffer, let userdata else { return ccurl_readfunc_abort() }
    let transfer = Unmanaged<Transfer>.fromOpaque(userdata).takeUnretainedValue()
    let (written, paused, wake) = transfer.upload.withLockedValue { state -> (Int, Bool, Bool) in
        var written = 0
        while written < capacity, var first = state.queue.first {
            let n = min(first.readableBytes, capacity - written)
            first.withUnsafeReadableBytes { source in
                UnsafeMutableRawPointer(buffer + written).copyMemory(from: source.baseAddress!, byteCount: n)
            }
            first.moveReaderIndex(forwardBy: n)
            if first.readableBytes == 0 {
                state.queue.removeFirst()
            } else {
                state.queue[state.queue.startIndex] = first
            }
            written += n
        }
        state.bytes -= written
        var paused = false
        if written == 0 && !state.ended {
            state.sendPaused = true
            paused = true
        }
        var wake = false
        if state.readingStopped && state.bytes <= Transfer.uploadLowWater {
            state.readingStopped = false
            wake = true
        }
        return (written, paused, wake)
    }
    if wake {
        transfer.curlResumeReading = true
        transfer.curlMarkDirty()
    }
    if paused {
        transfer.curlPauseBits |= Int32(ccurl_pause_send())
        return ccurl_readfunc_pause()
    }
    if written > 0 { transfer.touch() }
    return written
}

extension Transfer {
    /// One trailer line from curl (`name: value` with its line end, or the blank line that ends them).
    func curlTakeTrailer(_ line: UnsafeRawBufferPointer, forward: Bool) {
        var end = line.count
        while end > 0 && (line[end - 1] == UInt8(ascii: "\n") || line[end - 1] == UInt8(ascii: "\r")) { end -= 1 }
        guard end > 0, let colon = (0..<end).first(where: { line[$0] == UInt8(ascii: ":") }), colon > 0 else { return }
        let name = UnsafeRawBufferPointer(rebasing: line[0..<colon])
        if HeaderNames.equalsLowercase(name, "grpc-status") {
            self.curlGRPCStatus = HeaderNames.decimal(line[(colon + 1)..<end], limit: 1 << 20)
        }
        guard forward, HeaderNames.isForwardableTrailer(name) else { return }
        self.curlTrailers.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[0..<end]))
        self.curlTrailers.append(contentsOf: [13, 10])
    }
}
