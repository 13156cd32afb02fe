import Atomics
import CCurl
import Glibc
import Logging
import NIOCore
import NIOPosix

/// Sends finished spans to an OTLP/HTTP collector (SPEC §13), on a thread of its own: batches of up to
/// `queue.batchSize` spans, or whatever is queued after a second; gzip unless the collector refuses it (415);
/// retries with exponential backoff on 429, 502, 503, 504 and connection failures, honouring `Retry-After`;
/// a batch that cannot be sent is dropped and counted. Requests only ever push to the bounded queue.
public final class SpanExporter: Sendable {
    let settings: OTLPSettings
    let queue: SpanQueue
    private let logger: Logger
    private let stop = ManagedAtomic<Bool>(false)
    private let thread = NIOThreadPool(numberOfThreads: 1)
    /// Spans the collector accepted, and spans given up on after failed exports.
    let exported = ManagedAtomic<Int>(0)
    let failed = ManagedAtomic<Int>(0)
    /// Export calls made (retries included).
    let requests = ManagedAtomic<Int>(0)
    /// `service.name` and the other resource attributes of every batch.
    let resource: [(String, ExportedSpan.Value)]

    /// The longest wait for a batch to fill before what is queued is sent.
    static let flushIntervalMs = 1000
    static let maxAttempts = 5

    init(settings: OTLPSettings, logger: Logger, queue: SpanQueue = SpanQueue()) {
        self.settings = settings
        self.logger = logger
        self.queue = queue
        self.resource = [
            ("service.name", .string(settings.serviceName)), ("telemetry.sdk.name", .string("outrigger")),
            ("telemetry.sdk.language", .string("swift")), ("telemetry.sdk.version", .string(OutriggerVersion.current)),
        ]
    }

    /// Spans dropped: the queue was full, or their export failed.
    var dropped: Int { self.queue.dropped + self.failed.load(ordering: .relaxed) }

    func start() {
        self.thread.start()
        self.thread.submit { _ in self.loop() }
    }

    /// Sends what is queued (for at most `flushMs`), then stops.
    func shutdown(flushMs: Int64 = 2000) async {
        self.queue.close()
        let deadline = NIODeadline.now() + .milliseconds(flushMs)
        while self.queue.count > 0 && NIODeadline.now() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        self.stop.store(true, ordering: .relaxed)
        try? await self.thread.shutdownGracefully()
    }

    // MARK: - the exporter thread

    private func loop() {
        var gzip = self.settings.compression == .gzip
        while !self.stop.load(ordering: .relaxed) {
            let (batch, closed) = self.queue.take(waitingMs: Self.flushIntervalMs)
            if !batch.isEmpty { self.send(batch, gzip: &gzip) }
            if closed && self.queue.count == 0 { return }
        }
    }

    private func send(_ batch: [ExportedSpan], gzip: inout Bool) {
        let payload: [UInt8]
        let contentType: String
        switch self.settings.wireProtocol {
        case .protobuf:
            payload = OTLPProtobuf.encode(
                batch, resource: self.resource, scope: ("outrigger", OutriggerVersion.current))
            contentType = "application/x-protobuf"
        case .json:
            payload = Array(
                OTLPJSON.encode(batch, resource: self.resource, scope: ("outrigger", OutriggerVersion.current)).utf8)
            contentType = "application/json"
        }
        var backoffMs = 500
        for attempt in 1...Self.maxAttempts {
            if self.stop.load(ordering: .relaxed) { break }
            var body = payload
            var headers = ["Content-Type: \(contentType)"]
            if gzip, let compressed = Self.gzip(payload) {
                body = compressed
                headers.append("Content-Encoding: gzip")
            }
            headers += self.settings.headers.map { "\($0.name): \($0.value)" }
            var request = BlockingCurl(url: self.settings.endpoint, body: body, stop: self.stop)
            request.headers = headers
            request.timeoutMs = Int(self.settings.timeoutMs)
            self.requests.wrappingIncrement(ordering: .relaxed)
            let waitMs: Int
            do {
                let response = try request.perform()
                switch response.status {
                case 200..<300:
                    self.exported.wrappingIncrement(by: batch.count, ordering: .relaxed)
                    return
                case 415 where gzip:
                    // The collector does not take gzip: send plain from now on.
                    gzip = false
                    self.logger.notice("span export: the collector refused gzip; sending uncompressed")
                    continue
                case 429, 502, 503, 504:
                    waitMs = Self.retryAfterMs(response.header("retry-after")) ?? backoffMs
                default:
                    self.giveUp(
                        batch,
                        reason: "HTTP \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
                    return
                }
            } catch {
                if error.stopped { break }
                waitMs = backoffMs
                if attempt == Self.maxAttempts {
                    self.giveUp(batch, reason: error.description)
                    return
                }
            }
            if attempt == Self.maxAttempts { break }
            self.sleep(ms: min(waitMs, 30_000))
            backoffMs = min(backoffMs * 2, 8000)
        }
        self.giveUp(batch, reason: "the collector kept failing after \(Self.maxAttempts) attempts")
    }

    private func giveUp(_ batch: [ExportedSpan], reason: String) {
        self.failed.wrappingIncrement(by: batch.count, ordering: .relaxed)
        self.logger.warning(
            "span export failed: spans dropped",
            metadata: ["spans": "\(batch.count)", "endpoint": "\(self.settings.endpoint)", "error": "\(reason)"])
    }

    /// `Retry-After` in seconds (the HTTP-date form is treated as absent).
    static func retryAfterMs(_ value: String?) -> Int? {
        guard let value, let seconds = Int(value.trimmingWhitespace), seconds >= 0 else { return nil }
        return seconds * 1000
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8]? {
        let capacity = ccurl_gzip_bound(bytes.count)
        var out = [UInt8](repeating: 0, count: capacity)
        let written = bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                ccurl_gzip(input.baseAddress, input.count, output.baseAddress, capacity)
            }
        }
        guard written >= 0 else { return nil }
        out.removeLast(capacity - written)
        return out
    }

    private func sleep(ms: Int) { BackgroundThread.sleep(ms: ms, unless: self.stop) }
}
