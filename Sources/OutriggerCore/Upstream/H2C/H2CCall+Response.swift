import NIOCore
import NIOHPACK

// The response side of an h2c call: HEADERS, DATA and trailers turned into the bytes the client's connection
// expects, the same as the libcurl path produces (SPEC §4, §10).
extension H2CCall {
    /// The response head (or an interim 1xx one, which is swallowed).
    func takeHead(_ headers: HPACKHeaders) {
        guard let status = headers.first(name: ":status"), status.utf8.count == 3 else {
            self.fail(self.protocolError("response HEADERS without a valid :status"))
            return
        }
        var result = self.feedHead(prefix: "HTTP/2 ", status, "")
        for (name, value, _) in headers where result == nil && !name.hasPrefix(":") {
            result = self.feedHead(prefix: "", name, value)
        }
        if result == nil { result = self.feedHead(prefix: "", "", "") }
        switch result {
        case .none:
            return  // interim (1xx): the final head follows
        case .failure(let error):
            self.fail(self.protocolError("bad response head: \(error)"))
        case .success(let head):
            self.responseFraming = head.framing
            self.status = head.status
            self.closeAfter = head.closeConnection
            self.grpcStatus = head.grpcStatus
            self.holding = self.holds(status: head.status, grpcStatus: head.grpcStatus)
            if var output = self.output {
                var bytes = head.bytes
                output.writeBuffer(&bytes)
                self.output = output
            } else {
                self.output = head.bytes
            }
        }
    }

    /// Feeds one line to the head builder: the status line (`prefix` + status), a field (`name: value`), or the
    /// blank line that ends the block (all empty).
    private func feedHead(prefix: String, _ name: String, _ value: String) -> Result<
        ResponseHeadBuilder.Head, HeadError
    >? {
        self.headLine.removeAll(keepingCapacity: true)
        self.headLine.append(contentsOf: prefix.utf8)
        self.headLine.append(contentsOf: name.utf8)
        if !prefix.isEmpty || !name.isEmpty {
            if prefix.isEmpty {
                self.headLine.append(contentsOf: [58, 32])  // ": "
                self.headLine.append(contentsOf: value.utf8)
            }
        }
        self.headLine.append(contentsOf: [13, 10])
        return self.headLine.withUnsafeBytes { self.head.feed(line: $0) }
    }

    private func holds(status: Int, grpcStatus: Int?) -> Bool {
        self.holdStatuses.contains(status) || (grpcStatus == 14 && self.holdsGRPCUnavailable)
    }

    /// Response body bytes, framed for the client.
    func appendResponseBody(_ bytes: ByteBuffer, _ framing: ResponseHeadBuilder.BodyFraming) {
        switch framing {
        case .none:
            return
        case .contentLength, .closeDelimited:
            if self.output == nil {
                self.output = bytes
                return
            }
            self.output!.writeImmutableBuffer(bytes)
        case .chunked:
            if self.output == nil { self.output = ByteBuffer() }
            self.output!.reserveCapacity(minimumWritableBytes: bytes.readableBytes + 24)
            _ = ChunkedFraming.withSizeLine(bytes.readableBytes) { self.output!.writeBytes($0) }
            self.output!.writeImmutableBuffer(bytes)
            self.output!.writeStaticString("\r\n")
        }
    }

    /// Trailers after the body: passed on in the last chunk when the client's response is chunked (an HTTP/2 client
    /// gets them as trailers); `grpc-status` is read in any case.
    func takeTrailers(_ headers: HPACKHeaders) {
        for (name, value, _) in headers where !name.hasPrefix(":") {
            if name == "grpc-status" { self.grpcStatus = HeaderNames.decimal(value.utf8, limit: 1 << 20) }
            guard self.responseFraming == .chunked, HeaderNames.isForwardableTrailer(name.utf8) else { continue }
            self.trailers.append(contentsOf: name.utf8)
            self.trailers.append(contentsOf: [58, 32])
            self.trailers.append(contentsOf: value.utf8)
            self.trailers.append(contentsOf: [13, 10])
        }
    }

    /// END_STREAM from the upstream: the response is complete.
    func responseEnded() {
        guard let framing = self.responseFraming else {
            self.fail(self.protocolError("the stream ended before a final response head"))
            return
        }
        self.responseComplete = true
        if framing == .chunked {
            let last = ChunkedFraming.lastChunk(trailers: self.trailers)
            if self.output == nil { self.output = ByteBuffer() }
            self.output!.writeBytes(last)
            self.trailers = []
        }
    }
}
