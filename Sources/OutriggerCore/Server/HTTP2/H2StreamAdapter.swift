import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// The first handler of an HTTP/2 stream's pipeline (SPEC §10): the stream's HEADERS and DATA become the
/// `HTTPServerRequestPart`s a `ProxyHandler` reads, and the HTTP/1.1 response bytes it writes become HEADERS and
/// DATA frames again (`H1ResponseParser`). Backpressure is the stream channel's: its writability follows the
/// peer's flow-control window, and reads stop when the `ProxyHandler` stops asking.
final class H2StreamAdapter: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var headSeen = false
    private var ended = false
    /// The client ended its side of the stream (set before the parts are passed on: the exchange may answer and
    /// close from inside them).
    private var remoteEnded = false
    private var response = H1ResponseParser()
    /// The stream closed right after the response's last frame, before the exchange finished its bookkeeping.
    private var inactivityHeld = false
    /// A close asked for once the whole exchange was sent both ways: the stream closes by itself when the last
    /// frames are out (closing it now would reset it and drop them).
    private var closeWaiting: EventLoopPromise<Void>?
    private var closeWaitingNoPromise = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .headers(let headers):
            if !self.headSeen {
                self.headSeen = true
                guard let head = Self.requestHead(headers.headers, endStream: headers.endStream) else {
                    // A request without :method or :path is malformed (RFC 9113 §8.3.1).
                    context.close(promise: nil)
                    return
                }
                self.response.isHeadRequest = head.method == .HEAD
                if headers.endStream { self.remoteEnded = true }
                context.fireChannelRead(self.wrapInboundOut(.head(head)))
                if headers.endStream { self.end(nil, context: context) }
            } else {
                self.remoteEnded = true
                var trailers = HTTPHeaders()
                for (name, value, _) in headers.headers where !name.hasPrefix(":") {
                    trailers.add(name: name, value: value)
                }
                self.end(trailers, context: context)
            }
        case .data(let data):
            guard self.headSeen, !self.ended else { return }
            if data.endStream { self.remoteEnded = true }
            if case .byteBuffer(let buffer) = data.data, buffer.readableBytes > 0 {
                context.fireChannelRead(self.wrapInboundOut(.body(buffer)))
            }
            if data.endStream { self.end(nil, context: context) }
        default:
            break
        }
    }

    private func end(_ trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        guard !self.ended else { return }
        self.ended = true
        context.fireChannelRead(self.wrapInboundOut(.end(trailers)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = self.unwrapOutboundIn(data)
        let frames: [HTTP2Frame.FramePayload]
        do {
            frames = try self.response.feed(&bytes)
        } catch {
            promise?.fail(error)
            context.close(promise: nil)
            return
        }
        guard let last = frames.last else {
            promise?.succeed(())
            return
        }
        for frame in frames.dropLast() { context.write(self.wrapOutboundOut(frame), promise: nil) }
        context.write(self.wrapOutboundOut(last), promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if self.closeWaiting != nil || self.closeWaitingNoPromise {
            self.closeWaiting?.succeed(())
            self.closeWaiting = nil
            self.closeWaitingNoPromise = false
        } else if self.response.isDone {
            // END_STREAM both ways closes the stream at once, possibly before the upstream transfer reported its
            // end: the `ProxyHandler` learns of the close when it closes the stream itself, so the exchange ends
            // as complete (logged, counted for the breaker), not as a client that went away.
            self.inactivityHeld = true
            return
        }
        context.fireChannelInactive()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if self.inactivityHeld {
            self.inactivityHeld = false
            promise?.succeed(())
            context.fireChannelInactive()
            return
        }
        if self.response.isDone && self.remoteEnded {
            if let promise {
                if let waiting = self.closeWaiting {
                    waiting.futureResult.cascade(to: promise)
                } else {
                    self.closeWaiting = promise
                }
            } else {
                self.closeWaitingNoPromise = true
            }
            return
        }
        // A body read to the upstream's close ends with the stream, not with a reset.
        if let last = self.response.closing() {
            context.writeAndFlush(self.wrapOutboundOut(last), promise: nil)
        }
        context.close(mode: mode, promise: promise)
    }

    /// The HTTP/1.1 view of a request's HEADERS: `:authority` as `Host`, cookies joined (RFC 9113 §8.2.3), and
    /// `Transfer-Encoding: chunked` when a body of unknown length may follow (it is framed that way upstream).
    static func requestHead(_ headers: HPACKHeaders, endStream: Bool) -> HTTPRequestHead? {
        var method: String?
        var path: String?
        var authority: String?
        var fields: [(String, String)] = []
        var cookies: [String] = []
        var hasHost = false
        var hasLength = false
        for (name, value, _) in headers {
            switch name {
            case ":method": method = value
            case ":path": path = value
            case ":authority": authority = value
            case ":scheme", ":protocol": break
            case "cookie": cookies.append(value)
            default:
                if name.hasPrefix(":") { return nil }
                if name == "host" { hasHost = true }
                if name == "content-length" { hasLength = true }
                fields.append((name, value))
            }
        }
        guard let method, let path, !path.isEmpty else { return nil }
        var result = HTTPHeaders()
        if !hasHost, let authority { result.add(name: "host", value: authority) }
        for (name, value) in fields { result.add(name: name, value: value) }
        if !cookies.isEmpty { result.add(name: "cookie", value: cookies.joined(separator: "; ")) }
        if !endStream && !hasLength { result.add(name: "transfer-encoding", value: "chunked") }
        return HTTPRequestHead(
            version: HTTPVersion(major: 2, minor: 0), method: HTTPMethod(rawValue: method), uri: path, headers: result)
    }
}
