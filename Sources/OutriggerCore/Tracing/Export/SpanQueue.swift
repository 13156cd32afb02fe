import NIOConcurrencyHelpers

/// The bounded hand-off between requests and the exporter (SPEC §13): a request only appends under a lock and
/// never waits; when the queue is full the span is dropped and counted, so a collector that is down or slow costs
/// requests nothing.
final class SpanQueue: Sendable {
    private struct State {
        var spans: [ExportedSpan] = []
        var dropped = 0
        var closed = false
    }

    let capacity: Int
    let batchSize: Int
    /// Signalled (value 1) when a batch is ready or the queue closes; the exporter waits on it with a timeout.
    private let ready = ConditionLock<Int>(value: 0)
    private let state = NIOLockedValueBox(State())

    init(capacity: Int = 4096, batchSize: Int = 512) {
        self.capacity = capacity
        self.batchSize = batchSize
    }

    /// Adds a finished span; false (and counted) when the queue is full.
    @discardableResult
    func push(_ span: ExportedSpan) -> Bool {
        let (accepted, full) = self.state.withLockedValue { state -> (Bool, Bool) in
            guard !state.closed, state.spans.count < self.capacity else {
                state.dropped += 1
                return (false, false)
            }
            state.spans.append(span)
            return (true, state.spans.count >= self.batchSize)
        }
        if full { self.signal() }
        return accepted
    }

    /// Spans dropped because the queue was full.
    var dropped: Int { self.state.withLockedValue { $0.dropped } }
    var count: Int { self.state.withLockedValue { $0.spans.count } }

    /// Waits until a batch is ready, the queue closes or `timeoutMs` passes; then takes up to one batch.
    func take(waitingMs timeoutMs: Int) -> (spans: [ExportedSpan], closed: Bool) {
        if self.ready.lock(whenValue: 1, timeoutSeconds: Double(timeoutMs) / 1000) {
            self.ready.unlock(withValue: 0)
        }
        return self.state.withLockedValue { state in
            let batch = Array(state.spans.prefix(self.batchSize))
            state.spans.removeFirst(batch.count)
            return (batch, state.closed)
        }
    }

    /// Puts spans back at the front (an export to retry), dropping what no longer fits.
    func putBack(_ spans: [ExportedSpan]) {
        self.state.withLockedValue { state in
            let room = max(self.capacity - state.spans.count, 0)
            state.dropped += max(spans.count - room, 0)
            state.spans.insert(contentsOf: spans.prefix(room), at: 0)
        }
    }

    /// No more spans: the exporter sends what is left and stops.
    func close() {
        self.state.withLockedValue { $0.closed = true }
        self.signal()
    }

    private func signal() {
        self.ready.lock()
        self.ready.unlock(withValue: 1)
    }
}
