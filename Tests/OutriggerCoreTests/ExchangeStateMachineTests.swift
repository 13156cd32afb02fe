import NIOCore
import NIOHTTP1
import Testing

@testable import OutriggerCore

/// The exchange state machine without I/O: events in, actions out, time as an input.
@Suite("Exchange state machine", .timeLimit(.minutes(1)))
struct ExchangeStateMachineTests {
    static let head = HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))
    static func at(_ ms: Int64) -> NIODeadline { .uptimeNanoseconds(UInt64(ms) * 1_000_000) }

    func isProcess(_ inbound: ExchangeStateMachine.Inbound) -> Bool {
        if case .process = inbound { return true }
        return false
    }

    @Test func pipelinedPartsWaitForTheResponseAndComeOutInOrder() {
        var machine = ExchangeStateMachine()
        #expect(isProcess(machine.partRead(Self.head)))
        machine.headReceived(keepAlive: true)
        #expect(isProcess(machine.partRead(.end(nil))))
        let r1 = machine.requestEnded(now: Self.at(0))
        #expect(r1 == .init(endUpstreamBody: false, finish: false))
        #expect(machine.isWaitingForResponse)
        // The next request arrives before the first response: queued, not handled.
        let r2 = machine.partRead(Self.head)
        #expect(r2 == .queued)
        let r3 = machine.partRead(.end(nil))
        #expect(r3 == .queued)
        let r4 = machine.nextQueued()
        #expect(r4 == nil)
        machine.responseCompleted(closeConnection: false)
        let r5 = machine.exchangeFinished(draining: false)
        #expect(r5)
        guard case .part(.head) = machine.nextQueued() else {
            Issue.record("the queued head did not come out first")
            return
        }
        machine.headReceived(keepAlive: true)
        guard case .part(.end) = machine.nextQueued() else {
            Issue.record("the queued end did not follow")
            return
        }
        _ = machine.requestEnded(now: Self.at(0))
        let r6 = machine.nextQueued()
        #expect(r6 == nil)
    }

    @Test func readsStopWhenTooManyPartsWaitOrTheUploadIsFull() {
        var machine = ExchangeStateMachine()
        _ = machine.partRead(Self.head)
        machine.headReceived(keepAlive: true)
        _ = machine.partRead(.end(nil))
        _ = machine.requestEnded(now: Self.at(0))
        for _ in 0..<ExchangeStateMachine.maxQueuedParts { _ = machine.partRead(.end(nil)) }
        let r7 = machine.readRequested()
        #expect(!r7)
        machine.responseCompleted(closeConnection: false)
        _ = machine.exchangeFinished(draining: false)
        while machine.nextQueued() != nil {}
        let r8 = machine.resumeReads()
        #expect(r8)
        machine.uploadBlocked(true)
        let r9 = machine.readRequested()
        #expect(!r9)
        machine.uploadBlocked(false)
        let r10 = machine.resumeReads()
        #expect(r10)
        let r11 = machine.resumeReads()
        #expect(!r11)  // one held read, issued once
    }

    @Test func perTryTimeoutStartsWhenTheRequestIsComplete() {
        var machine = ExchangeStateMachine()
        machine.headReceived(keepAlive: true)
        machine.bodyExpected(true)
        machine.tryStarted(perTryMs: 100, idleTimeoutNs: 0, lastActivityNs: 0, now: Self.at(0))
        #expect(machine.timerDeadline == nil)  // the upload is still arriving: not measured
        let r12 = machine.requestEnded(now: Self.at(500))
        #expect(r12 == .init(endUpstreamBody: true, finish: false))
        #expect(machine.timerDeadline == Self.at(600))
        let r13 = machine.timerFired(now: Self.at(599), lastActivityNs: 0)
        #expect(r13 == .none)
        #expect(machine.timerDeadline == Self.at(600))
        let r14 = machine.timerFired(now: Self.at(600), lastActivityNs: 0)
        #expect(r14 == .perTryTimeout)
    }

    @Test func perTryTimeoutNoLongerAppliesOnceTheResponseStarted() {
        var machine = ExchangeStateMachine()
        machine.headReceived(keepAlive: true)
        _ = machine.requestEnded(now: Self.at(0))
        machine.tryStarted(perTryMs: 100, idleTimeoutNs: 0, lastActivityNs: 0, now: Self.at(0))
        machine.responseStarted()
        let r15 = machine.timerFired(now: Self.at(100), lastActivityNs: 0)
        #expect(r15 == .none)
        #expect(machine.timerDeadline == nil)
    }

    @Test func idleTimeoutCountsFromTheLastByte() {
        var machine = ExchangeStateMachine()
        machine.headReceived(keepAlive: true)
        _ = machine.requestEnded(now: Self.at(0))
        machine.tryStarted(perTryMs: 0, idleTimeoutNs: 200_000_000, lastActivityNs: 0, now: Self.at(0))
        #expect(machine.timerDeadline == Self.at(200))
        let touched = UInt64(150_000_000)
        let r16 = machine.timerFired(now: Self.at(200), lastActivityNs: touched)
        #expect(r16 == .none)
        #expect(machine.timerDeadline == Self.at(350))
        let r17 = machine.timerFired(now: Self.at(350), lastActivityNs: touched)
        #expect(r17 == .idleTimeout)
    }

    @Test func theEarlierOfPerTryAndIdleArmsTheOneTimer() {
        var machine = ExchangeStateMachine()
        machine.headReceived(keepAlive: true)
        _ = machine.requestEnded(now: Self.at(0))
        machine.tryStarted(perTryMs: 300, idleTimeoutNs: 100_000_000, lastActivityNs: 0, now: Self.at(0))
        #expect(machine.timerDeadline == Self.at(100))
        let r18 = machine.timerFired(now: Self.at(100), lastActivityNs: 90_000_000)
        #expect(r18 == .none)
        #expect(machine.timerDeadline == Self.at(190))
    }

    @Test func aLocalAnswerBeforeTheBodyClosesUnlessTheBodyIsDrained() {
        var machine = ExchangeStateMachine()
        machine.headReceived(keepAlive: true)
        machine.bodyExpected(true)
        let r19 = machine.answerLocally(close: false)
        #expect(r19 == .writeThenFinish)  // unread body follows: close after it
        let r20 = machine.exchangeFinished(draining: false)
        #expect(!r20)
        #expect(machine.closing)

        var drained = ExchangeStateMachine()
        drained.headReceived(keepAlive: true)
        let r21 = drained.answerLocally(close: false)
        #expect(r21 == .writeThenDrainBody)
        #expect(!drained.bodyReceived())
        let r22 = drained.requestEnded(now: Self.at(0))
        #expect(r22 == .init(endUpstreamBody: false, finish: true))
        let r23 = drained.exchangeFinished(draining: false)
        #expect(r23)
    }

    @Test func aLocalAnswerAfterResponseBytesTruncates() {
        var machine = ExchangeStateMachine()
        machine.headReceived(keepAlive: true)
        _ = machine.requestEnded(now: Self.at(0))
        machine.tryStarted(perTryMs: 0, idleTimeoutNs: 0, lastActivityNs: 0, now: Self.at(0))
        machine.responseStarted()
        let r24 = machine.answerLocally(close: false)
        #expect(r24 == .truncate)
        #expect(machine.closing)
        let r25 = machine.partRead(Self.head)
        #expect(r25 == .drop)
    }

    @Test func aResponseBeforeTheWholeBodyEndsTheConnection() {
        var machine = ExchangeStateMachine()
        machine.headReceived(keepAlive: true)
        machine.bodyExpected(true)
        machine.tryStarted(perTryMs: 0, idleTimeoutNs: 0, lastActivityNs: 0, now: Self.at(0))
        machine.tryEnded()
        machine.responseCompleted(closeConnection: false)
        let r26 = machine.exchangeFinished(draining: false)
        #expect(!r26)
    }

    @Test func drainClosesIdleConnectionsAndBusyOnesAfterTheirResponse() {
        var idle = ExchangeStateMachine()
        let r27 = idle.drainRequested()
        #expect(r27)
        var busy = ExchangeStateMachine()
        busy.headReceived(keepAlive: true)
        let r28 = busy.drainRequested()
        #expect(!r28)
        _ = busy.requestEnded(now: Self.at(0))
        busy.responseCompleted(closeConnection: false)
        let r29 = busy.exchangeFinished(draining: true)
        #expect(!r29)
    }
}

extension ExchangeStateMachine.Inbound: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.queued, .queued), (.drop, .drop): return true
        default: return false
        }
    }
}

extension ExchangeStateMachine.Queued: Equatable {
    public static func == (lhs: Self, rhs: Self) -> Bool { false }
}
