import Foundation
import NIOCore
import NIOPosix
@testable import Notifications
import Synchronization
import Testing
import UnifiedMessaging

/// An SMSC in the test process, for what the real one (smsc_sim.py, in ProcessTests)
/// cannot be made to do on demand: hold responses, stop answering, send generic_nack or
/// unbind, and show every PDU it was sent. `answer` decides the responses to each PDU.
final class FakeSMSC: Sendable {
    let port: Int
    private let channel: any Channel
    private let shared: Shared
    /// What the SMSC answers from now on.
    func setAnswer(_ answer: @escaping @Sendable (SMPPPDU) -> [SMPPPDU]) { shared.answer.withLock { $0 = answer } }

    final class Shared: Sendable {
        let state = Mutex<(received: [SMPPPDU], clients: [any Channel])>(([], []))
        let answer = Mutex<@Sendable (SMPPPDU) -> [SMPPPDU]>(FakeSMSC.standard)
    }

    static func okResponse(_ pdu: SMPPPDU, id: String = "") -> SMPPPDU {
        SMPPPDU(command: SMPPCommand.response(to: pdu.command), sequence: pdu.sequence, body: Array(id.utf8) + [0])
    }

    /// Answers binds, enquire_links and unbinds with success and submits with ids `sN`.
    static let standard: @Sendable (SMPPPDU) -> [SMPPPDU] = { pdu in
        switch pdu.command {
        case SMPPCommand.submitSM: [okResponse(pdu, id: "s\(pdu.sequence)")]
        case SMPPCommand.bindTransceiver, SMPPCommand.bindTransmitter: [okResponse(pdu, id: "FAKE")]
        case SMPPCommand.enquireLink, SMPPCommand.unbind: [SMPPPDU(command: SMPPCommand.response(to: pdu.command), sequence: pdu.sequence)]
        default: []
        }
    }

    init() async throws {
        let shared = Shared()
        self.shared = shared
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                shared.state.withLock { $0.clients.append(child) }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMPPFrameDecoder()))
                    try child.pipeline.syncOperations.addHandler(MessageToByteHandler(SMPPFrameEncoder()))
                    try child.pipeline.syncOperations.addHandler(Responder(shared: shared))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
    }

    final class Responder: ChannelInboundHandler, Sendable {
        typealias InboundIn = SMPPPDU
        typealias OutboundOut = SMPPPDU
        let shared: Shared
        init(shared: Shared) { self.shared = shared }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let pdu = unwrapInboundIn(data)
            shared.state.withLock { $0.received.append(pdu) }
            for response in shared.answer.withLock({ $0 })(pdu) { context.write(wrapOutboundOut(response), promise: nil) }
            context.flush()
        }
    }

    var received: [SMPPPDU] { shared.state.withLock { $0.received } }
    func received(_ command: UInt32) -> [SMPPPDU] { received.filter { $0.command == command } }
    var connections: Int { shared.state.withLock { $0.clients.count } }

    /// Sends `pdu` to the newest client.
    func send(_ pdu: SMPPPDU) {
        guard let client = shared.state.withLock({ $0.clients.last }) else { return }
        client.writeAndFlush(pdu, promise: nil)
    }

    func send(raw bytes: [UInt8]) {
        guard let client = shared.state.withLock({ $0.clients.last }) else { return }
        // Below the encoder: bytes as they are.
        client.pipeline.context(handlerType: MessageToByteHandler<SMPPFrameEncoder>.self).whenSuccess { context in
            context.writeAndFlush(NIOAny(ByteBuffer(bytes: bytes)), promise: nil)
        }
    }

    func dropClients() {
        for client in shared.state.withLock({ $0.clients }) { client.close(promise: nil) }
    }

    func close() { channel.close(promise: nil) }
}

@Suite struct SMPPClientTests {
    func route(_ port: Int, window: Int = 10) -> SMSRoute {
        SMSRoute(name: "fake", kind: .smpp, host: "127.0.0.1", port: port, systemId: "mwid", password: "pw", sourceAddress: "Voicemail",
                 window: window)
    }

    var timers: SMPPTimers {
        var timers = SMPPTimers()
        timers.responseTimeout = .milliseconds(1500)  // short, but not so short that a loaded machine misses it
        timers.reconnectBackoff = .milliseconds(20)
        timers.throttleDelay = .milliseconds(30)
        timers.throttleRetries = 3
        return timers
    }

    @Test func bindsOnceAndSubmitsInOrder() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        let client = try SMPPClient(route: route(smsc.port), timers: timers)
        let outcome = await client.submit(SMSText(String(repeating: "x", count: 300)), to: "+33612345678", reference: 9, partsSent: 0)
        #expect(outcome.failure == nil && outcome.accepted == 2 && outcome.messageIDs.count == 2)
        let binds = smsc.received(SMPPCommand.bindTransceiver)
        #expect(binds.count == 1 && binds[0].body.starts(with: Array("mwid".utf8) + [0] + Array("pw".utf8)))
        let submits = smsc.received(SMPPCommand.submitSM)
        #expect(submits.count == 2)
        // A retry sends only the parts not yet accepted.
        let rest = await client.submit(SMSText(String(repeating: "x", count: 300)), to: "+33612345678", reference: 9, partsSent: 1)
        #expect(rest.accepted == 1 && smsc.received(SMPPCommand.submitSM).count == 3)
        #expect(smsc.connections == 1)
        await client.close()
        #expect(smsc.received(SMPPCommand.unbind).count == 1)
    }

    @Test func neverMoreThanTheWindowInFlight() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        let held = Locked<[SMPPPDU]>([])
        smsc.setAnswer { pdu in
            if pdu.command == SMPPCommand.submitSM {
                held.withLock { $0.append(pdu) }
                return []
            }
            return FakeSMSC.standard(pdu)
        }
        var patient = timers
        patient.responseTimeout = .seconds(10)
        let client = try SMPPClient(route: route(smsc.port, window: 4), timers: patient)
        let done = Locked(0)
        let sends = Task {
            await withTaskGroup(of: Int.self) { group in
                for i in 0..<10 {
                    group.addTask {
                        let outcome = await client.submit(SMSText("text \(i)"), to: "+33612345678", reference: 0, partsSent: 0)
                        done.withLock { $0 += 1 }
                        return outcome.accepted
                    }
                }
                return await group.reduce(0, +)
            }
        }
        #expect(await eventually { held.withLock { $0.count } == 4 })
        try await Task.sleep(for: .milliseconds(100))
        #expect(held.withLock { $0.count } == 4, "a fifth submit went out before a response")
        // Answer them as they come: the others follow, never more than four waiting.
        var most = 0
        let deadline = ContinuousClock.now + .seconds(5)
        while done.withLock({ $0 }) < 10, ContinuousClock.now < deadline {
            let waiting = held.withLock { pending -> [SMPPPDU] in
                defer { pending = [] }
                return pending
            }
            most = max(most, waiting.count)
            for pdu in waiting { smsc.send(FakeSMSC.okResponse(pdu, id: "h\(pdu.sequence)")) }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(await sends.value == 10 && most <= 4)
        await client.close()
    }

    @Test func throttlingPausesThenResumes() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        let throttled = Locked(0)
        smsc.setAnswer { pdu in
            if pdu.command == SMPPCommand.submitSM, throttled.withLock({ count in count += 1; return count <= 2 }) {
                return [SMPPPDU(command: SMPPCommand.response(to: pdu.command), status: SMPPStatus.throttled, sequence: pdu.sequence)]
            }
            return FakeSMSC.standard(pdu)
        }
        let client = try SMPPClient(route: route(smsc.port), timers: timers)
        let started = ContinuousClock.now
        let outcome = await client.submit(SMSText("hello"), to: "+33612345678", reference: 0, partsSent: 0)
        #expect(outcome.failure == nil && outcome.accepted == 1)
        #expect(smsc.received(SMPPCommand.submitSM).count == 3)
        // Paused 30 ms, then 60 ms.
        #expect(ContinuousClock.now - started >= .milliseconds(90))
        // Always throttled: given up after the retries, as a temporary failure.
        throttled.withLock { $0 = -100 }
        let refused = await client.submit(SMSText("again"), to: "+33612345678", reference: 0, partsSent: 0)
        guard case .temporary(let why)? = refused.failure else { Issue.record("\(refused)"); return }
        #expect(why.contains("ESME_RTHROTTLED"))
        await client.close()
    }

    @Test func errorStatusesAndGenericNack() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        smsc.setAnswer { pdu in
            guard pdu.command == SMPPCommand.submitSM else { return FakeSMSC.standard(pdu) }
            // The bind was sequence 1: the first submit gets a generic_nack, the second an error status.
            return pdu.sequence == 2
                ? [SMPPPDU(command: SMPPCommand.genericNack, status: SMPPStatus.invalidDestinationAddress, sequence: pdu.sequence)]
                : [SMPPPDU(command: SMPPCommand.response(to: pdu.command), status: SMPPStatus.systemError, sequence: pdu.sequence)]
        }
        let client = try SMPPClient(route: route(smsc.port), timers: timers)
        // Sequence 2 (after the bind): a generic_nack with ESME_RINVDSTADR — permanent.
        let first = await client.submit(SMSText("a"), to: "+999123456789", reference: 0, partsSent: 0)
        guard case .permanent(let why)? = first.failure else { Issue.record("\(first)"); return }
        #expect(why.contains("generic_nack ESME_RINVDSTADR"))
        // Sequence 3: ESME_RSYSERR — temporary.
        let second = await client.submit(SMSText("b"), to: "+33612345678", reference: 0, partsSent: 0)
        guard case .temporary(let reason)? = second.failure else { Issue.record("\(second)"); return }
        #expect(reason.contains("ESME_RSYSERR"))
        await client.close()
    }

    @Test func idleBindProbedWithEnquireLinkAndDeadOneReplaced() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        var quick = timers
        quick.enquireLinkInterval = .milliseconds(100)
        let client = try SMPPClient(route: route(smsc.port), timers: quick)
        #expect(await client.submit(SMSText("a"), to: "+33612345678", reference: 0, partsSent: 0).failure == nil)
        #expect(await eventually { smsc.received(SMPPCommand.enquireLink).count >= 2 })
        // The SMSC stops answering: the next enquire_link goes unanswered and the bind is closed.
        smsc.setAnswer { pdu in pdu.command == SMPPCommand.enquireLink ? [] : FakeSMSC.standard(pdu) }
        #expect(await eventually { await !client.isBound })
        smsc.setAnswer(FakeSMSC.standard)
        // The next text binds again.
        #expect(await client.submit(SMSText("b"), to: "+33612345678", reference: 0, partsSent: 0).failure == nil)
        #expect(smsc.received(SMPPCommand.bindTransceiver).count == 2)
        await client.close()
    }

    @Test func lostConnectionAndUnansweredSubmitAreNotRetriedBlindly() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        smsc.setAnswer { pdu in pdu.command == SMPPCommand.submitSM ? [] : FakeSMSC.standard(pdu) }
        let client = try SMPPClient(route: route(smsc.port), timers: timers)
        // No answer within the response timeout: the SMSC may have it, so: unknown.
        let silent = await client.submit(SMSText("a"), to: "+33612345678", reference: 0, partsSent: 0)
        guard case .unknown? = silent.failure else { Issue.record("\(silent)"); return }
        // The connection drops while a submit waits: unknown too.
        let waiting = Task { await client.submit(SMSText("b"), to: "+33612345678", reference: 0, partsSent: 0) }
        #expect(await eventually { smsc.received(SMPPCommand.submitSM).count == 2 })
        smsc.dropClients()
        guard case .unknown(let why)? = await waiting.value.failure else { Issue.record("not unknown"); return }
        #expect(why.contains("lost"))
        await client.close()
    }

    @Test func unreachableSMSCIsATemporaryFailureWithBackOff() async throws {
        let smsc = try await FakeSMSC()
        let port = smsc.port
        smsc.close()
        try await Task.sleep(for: .milliseconds(50))
        // A back-off long enough that a loaded machine cannot spend it between the two submits.
        var slow = timers
        slow.reconnectBackoff = .seconds(60)
        slow.maximumReconnectBackoff = .seconds(60)
        let client = try SMPPClient(route: route(port), timers: slow)
        let first = await client.submit(SMSText("a"), to: "+33612345678", reference: 0, partsSent: 0)
        guard case .temporary(let why)? = first.failure else { Issue.record("\(first)"); return }
        #expect(why.contains("cannot connect"))
        // Within the back-off no new connection is tried: the answer says when.
        let second = await client.submit(SMSText("a"), to: "+33612345678", reference: 0, partsSent: 0)
        guard case .temporary(let again)? = second.failure else { Issue.record("\(second)"); return }
        #expect(again.contains("next try in"))
        await client.close()
    }

    @Test func receiptsAcknowledgedAndHandedOverAndGarbageSurvived() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        let receipts = Locked<[(String, Bool, String)]>([])
        let client = try SMPPClient(route: route(smsc.port), timers: timers) { id, delivered, state in
            receipts.withLock { $0.append((id, delivered, state)) }
        }
        #expect(await client.submit(SMSText("a"), to: "+33612345678", reference: 0, partsSent: 0).failure == nil)
        let text = Array("id:s2 sub:001 dlvrd:001 submit date:2612011200 done date:2612011201 stat:DELIVRD err:000 text:a".utf8)
        var body: [UInt8] = [0, 1, 1] + Array("33612345678".utf8) + [0, 5, 0] + Array("Voicemail".utf8) + [0]
        body += [0x04, 0, 0, 0, 0, 0, 0, 0, 0, UInt8(text.count)] + text
        smsc.send(SMPPPDU(command: SMPPCommand.deliverSM, sequence: 77, body: body))
        #expect(await eventually { receipts.withLock { $0.count } == 1 })
        #expect(receipts.withLock { $0.first?.0 == "s2" && $0.first?.1 == true })
        #expect(await eventually { smsc.received(SMPPCommand.response(to: SMPPCommand.deliverSM)).contains { $0.sequence == 77 } })
        // An unknown request gets generic_nack ESME_RINVCMDID; a broken deliver_sm is acknowledged and skipped.
        smsc.send(SMPPPDU(command: 0x0000_0777, sequence: 78))
        smsc.send(SMPPPDU(command: SMPPCommand.deliverSM, sequence: 79, body: [0, 1]))
        #expect(await eventually { smsc.received(SMPPCommand.genericNack).contains { $0.sequence == 78 && $0.status == SMPPStatus.invalidCommandID } })
        #expect(await eventually { smsc.received(SMPPCommand.response(to: SMPPCommand.deliverSM)).contains { $0.sequence == 79 } })
        // A PDU with an impossible length closes the link; the next text binds again.
        smsc.send(raw: [0, 0, 0, 3, 0, 0, 0, 0])
        #expect(await eventually { await !client.isBound })
        #expect(await client.submit(SMSText("b"), to: "+33612345678", reference: 0, partsSent: 0).failure == nil)
        await client.close()
    }

    @Test func unbindFromTheSMSCIsAnsweredAndTheBindMadeAgainOnDemand() async throws {
        let smsc = try await FakeSMSC()
        defer { smsc.close() }
        let client = try SMPPClient(route: route(smsc.port), timers: timers)
        #expect(await client.submit(SMSText("a"), to: "+33612345678", reference: 0, partsSent: 0).failure == nil)
        smsc.send(SMPPPDU(command: SMPPCommand.unbind, sequence: 90))
        #expect(await eventually { smsc.received(SMPPCommand.response(to: SMPPCommand.unbind)).contains { $0.sequence == 90 } })
        #expect(await eventually { await !client.isBound })
        #expect(await client.submit(SMSText("b"), to: "+33612345678", reference: 0, partsSent: 0).failure == nil)
        #expect(smsc.connections == 2)
        await client.close()
    }
}

func eventually(timeout: Duration = .seconds(20), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}


/// A value shared by the test and the closures it hands out.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout sending Value) throws -> sending T) rethrows -> T { try mutex.withLock(body) }
}
