import Foundation
import NIOCore
import NIOPosix
import SIP

// Fan-out through a message-summary server (mwid, or Kamailio presence_mwi), over UDP on
// loopback, from one process that both subscribes and publishes (so that one clock times
// PUBLISH → NOTIFY):
//
//   FanoutBench SERVER_PORT COUNT SECONDS RATE...
//       COUNT subscribers subscribe (500 at a time, no digest: the server trusts
//       127.0.0.1) to extensions 0000000…COUNT-1, then for each RATE: PUBLISH at that
//       rate for SECONDS, round-robin over the mailboxes, each with new counts (the first
//       to a mailbox without SIP-If-Match, the next ones with the entity tag of the last
//       answer), then up to 5 s for the last NOTIFYs. One line per rate:
//       "rate R sent S in T s ok O notified N superseded U lost L p50_ms X p99_ms Y max_ms Z
//        answer_p50_ms A answer_p99_ms B" (A, B: PUBLISH sent → its 200)
//       where notified counts the publications whose counts reached their subscriber
//       (latency: PUBLISH sent → that NOTIFY received), superseded those overtaken by a
//       newer publication to the same mailbox that arrived first, lost the others.
//       At the end every subscription is ended (SUBSCRIBE with Expires: 0 in its dialog),
//       so that the next run against the same server starts from the same state, not
//       with this run's subscribers still there and unreachable: "unsubscribed N of M".

func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

final class Fanout: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let server: SocketAddress
    let count: Int
    let localPort: Int
    var context: ChannelHandlerContext?
    var rng = BufferedSystemRandom()

    // Subscribing.
    var started = 0
    var subscribed = 0
    var failed = 0
    let window = 500
    var subscribedPromise: EventLoopPromise<Void>?
    /// The server's tag of each subscription's dialog (to end it).
    var toTags: [String?]

    // Unsubscribing: the subscriptions whose SUBSCRIBE with Expires: 0 is unanswered.
    var leaving = Set<Int>()
    var toLeave: [Int] = []
    var left = 0

    // Publishing: per mailbox, the entity tag to match and the publications in flight
    // (the count sent → when), and the samples.
    var etags: [String?]
    var pending: [[UInt32: UInt64]]
    var round: [UInt32]
    var sent = 0
    var ok = 0
    var notified = 0
    var superseded = 0
    var latencies: [UInt64] = []
    /// PUBLISH sent → its 200 received (the server's own time, before the fan-out).
    var answerLatencies: [UInt64] = []
    var cseq: UInt32 = 0

    init(server: SocketAddress, count: Int, localPort: Int) {
        self.server = server
        self.count = count
        self.localPort = localPort
        etags = Array(repeating: nil, count: count)
        pending = Array(repeating: [:], count: count)
        round = Array(repeating: 0, count: count)
        toTags = Array(repeating: nil, count: count)
    }

    func ext(_ i: Int) -> String { String(format: "%07d", i) }
    func uri(_ i: Int) -> SIPURI { SIPURI(user: ext(i), host: "127.0.0.1", port: UInt16(server.port ?? 5060)) }

    func send(_ message: SIPMessage) {
        context?.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: message.serialize()))),
                               promise: nil)
    }

    func subscribe(_ i: Int) {
        let target = uri(i)
        send(SIPMessage.request(
            method: .subscribe, uri: target,
            via: SIPVia(transport: "UDP", host: "127.0.0.1", port: UInt16(localPort), branch: SIPIdentifiers.branch(using: &rng)),
            from: SIPNameAddress(uri: target, parameters: [("tag", "s\(i)")]), to: SIPNameAddress(uri: target),
            callID: "sub-\(i)@fanout", cseq: 1,
            contact: SIPNameAddress(uri: SIPURI(user: "s\(i)", host: "127.0.0.1", port: UInt16(localPort))),
            headers: [(.event, "message-summary"), (.accept, "application/simple-message-summary"), (.expires, "7200")]))
    }

    /// Ends subscription `i`: a SUBSCRIBE with Expires: 0 in its dialog.
    func unsubscribe(_ i: Int) {
        let target = uri(i)
        send(SIPMessage.request(
            method: .subscribe, uri: target,
            via: SIPVia(transport: "UDP", host: "127.0.0.1", port: UInt16(localPort), branch: SIPIdentifiers.branch(using: &rng)),
            from: SIPNameAddress(uri: target, parameters: [("tag", "s\(i)")]),
            to: SIPNameAddress(uri: target, parameters: toTags[i].map { [("tag", $0)] } ?? []),
            callID: "sub-\(i)@fanout", cseq: 2,
            contact: SIPNameAddress(uri: SIPURI(user: "s\(i)", host: "127.0.0.1", port: UInt16(localPort))),
            headers: [(.event, "message-summary"), (.accept, "application/simple-message-summary"), (.expires, "0")]))
    }

    /// Starts ending every subscription that was accepted, `window` at a time.
    func startUnsubscribing() {
        toLeave = toTags.indices.filter { toTags[$0] != nil }.reversed()
        for _ in 0..<window { nextUnsubscription() }
    }

    func nextUnsubscription() {
        guard let i = toLeave.popLast() else { return }
        leaving.insert(i)
        unsubscribe(i)
    }

    /// Subscriptions sent and not answered yet (sent again every second: UDP may drop them).
    var unanswered = Set<Int>()

    func nextSubscription() {
        guard started < count else { return }
        started += 1
        unanswered.insert(started - 1)
        subscribe(started - 1)
    }

    func resendUnanswered() {
        for i in unanswered { subscribe(i) }
    }

    /// One PUBLISH of new counts for the mailbox whose turn it is.
    func publish() {
        let i = sent % count
        sent += 1
        round[i] &+= 1
        let counts = round[i]
        pending[i][counts] = now()
        cseq &+= 1
        let target = uri(i)
        var headers: [(SIPHeaderName, String)] = [(.event, "message-summary"), (.expires, "3600"),
                                                  (.contentType, "application/simple-message-summary")]
        if let etag = etags[i] { headers.append((.sipIfMatch, etag)) }
        let body = "Messages-Waiting: yes\r\nVoice-Message: \(counts)/0\r\n"
        send(SIPMessage.request(
            method: .publish, uri: target,
            via: SIPVia(transport: "UDP", host: "127.0.0.1", port: UInt16(localPort), branch: SIPIdentifiers.branch(using: &rng)),
            from: SIPNameAddress(uri: SIPURI(user: "voicemail", host: "127.0.0.1"), parameters: [("tag", "v\(i)")]),
            to: SIPNameAddress(uri: target), callID: "pub-\(i)-\(counts)@fanout", cseq: cseq, headers: headers, body: Array(body.utf8)))
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.fireChannelActive()
    }

    func startSubscribing(_ promise: EventLoopPromise<Void>) {
        subscribedPromise = promise
        for _ in 0..<min(window, count) { nextSubscription() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let message = envelope.data.withUnsafeReadableBytes({ try? SIPParser.parseDatagram($0) }) else { return }
        if message.isRequest {
            let at = now()
            if message.method == .notify, let callID = message.callID, callID.hasPrefix("sub-"),
               let i = Int(callID.dropFirst(4).prefix { $0 != "@" }), i < count,
               let summary = try? MessageSummary(parsing: message.body), let voice = summary[.voice] {
                // Every publication this NOTIFY's counts answer (its own, and older ones it supersedes).
                if let sentAt = pending[i].removeValue(forKey: voice.new) {
                    notified += 1
                    latencies.append(at - sentAt)
                    // Older publications still waiting are superseded: the subscriber has newer counts.
                    for older in pending[i].keys where older < voice.new {
                        pending[i].removeValue(forKey: older)
                        superseded += 1
                    }
                }
            }
            let answer = message.makeResponse(statusCode: 200, toTag: (try? message.to()?.tag) == nil ? "t" : nil)
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress,
                                                                    data: ByteBuffer(bytes: answer.serialize()))), promise: nil)
            return
        }
        guard let callID = message.callID, let code = message.statusCode, code >= 200 else { return }
        if callID.hasPrefix("sub-") {
            guard let i = Int(callID.dropFirst(4).prefix { $0 != "@" }), i < count else { return }
            if (try? message.cseq()?.sequence) == 2 {
                guard leaving.remove(i) != nil else { return }
                left += 1
                nextUnsubscription()
                return
            }
            guard unanswered.remove(i) != nil else { return }
            if (200..<300).contains(code) {
                subscribed += 1
                toTags[i] = try? message.to()?.tag
            } else {
                failed += 1
            }
            if subscribed + failed == count { subscribedPromise?.succeed() } else { nextSubscription() }
        } else if callID.hasPrefix("pub-") {
            let parts = callID.dropFirst(4).prefix { $0 != "@" }.split(separator: "-")
            guard parts.count == 2, let i = Int(parts[0]), i < count else { return }
            if (200..<300).contains(code) {
                ok += 1
                if let counts = UInt32(parts[1]), let sentAt = pending[i][counts] { answerLatencies.append(now() - sentAt) }
                if let etag = message.headers.first(.sipETag) { etags[i] = etag.trimmingCharacters(in: .whitespaces) }
            } else {
                etags[i] = nil  // start a new publication next time
            }
        }
    }

    func reset() {
        sent = 0
        ok = 0
        notified = 0
        superseded = 0
        latencies = []
        answerLatencies = []
        for i in pending.indices { pending[i] = [:] }
    }
}

let args = CommandLine.arguments
guard args.count >= 5, let port = Int(args[1]), let count = Int(args[2]), let seconds = Double(args[3]) else {
    say("usage: FanoutBench SERVER_PORT COUNT SECONDS RATE...")
    exit(2)
}
let rates = args.dropFirst(4).compactMap { Int($0) }
let loop = MultiThreadedEventLoopGroup.singleton.next()
let server = try SocketAddress(ipAddress: "127.0.0.1", port: port)
let probe = try await DatagramBootstrap(group: loop).bind(host: "127.0.0.1", port: 0).get()
let localPort = probe.localAddress?.port ?? 0
try await probe.close().get()
let fanout = Fanout(server: server, count: count, localPort: localPort)
let channel = try await DatagramBootstrap(group: loop)
    .channelOption(.socketOption(.so_rcvbuf), value: 16 << 20)
    .channelOption(.socketOption(.so_sndbuf), value: 16 << 20)
    .channelOption(.maxMessagesPerRead, value: 16)
    .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(fanout) } }
    .bind(host: "127.0.0.1", port: localPort).get()

let subscribedPromise = loop.makePromise(of: Void.self)
let subscribeStart = now()
try await loop.submit { fanout.startSubscribing(subscribedPromise) }.get()
let resend = loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in fanout.resendUnanswered() }
try await subscribedPromise.futureResult.get()
resend.cancel()
let (subscribed, failedSubscriptions) = try await loop.submit { (fanout.subscribed, fanout.failed) }.get()
say("subscribed \(subscribed) in \(String(format: "%.2f", Double(now() - subscribeStart) / 1e9)) s (\(failedSubscriptions) failed)")
// The first NOTIFYs (the state at subscription) settle.
try await Task.sleep(for: .seconds(2))

for rate in rates {
    try await loop.submit { fanout.reset() }.get()
    // Paced from the event loop: every millisecond, the publications due by now.
    let total = Int(Double(rate) * seconds)
    let start = now()
    let finished = loop.makePromise(of: Void.self)
    _ = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
        let due = min(total, Int(Double(now() - start) / 1e9 * Double(rate)))
        while fanout.sent < due { fanout.publish() }
        if fanout.sent >= total {
            task.cancel()
            finished.succeed()
        }
    }
    try await finished.futureResult.get()
    let sendSeconds = Double(now() - start) / 1e9
    // Up to 5 s for the last NOTIFYs.
    let drainUntil = now() + 5_000_000_000
    while now() < drainUntil {
        let done = try await loop.submit { fanout.notified + fanout.superseded >= fanout.sent }.get()
        if done { break }
        try await Task.sleep(for: .milliseconds(20))
    }
    let (sent, ok, notified, superseded, samples, answers) = try await loop.submit {
        (fanout.sent, fanout.ok, fanout.notified, fanout.superseded, fanout.latencies, fanout.answerLatencies)
    }.get()
    let sorted = samples.sorted(), answered = answers.sorted()
    func percentile(_ p: Double, of sorted: [UInt64]) -> String {
        guard !sorted.isEmpty else { return "-" }
        return String(format: "%.2f", Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6)
    }
    func percentile(_ p: Double) -> String { percentile(p, of: sorted) }
    say("rate \(rate) sent \(sent) in \(String(format: "%.2f", sendSeconds)) s ok \(ok) notified \(notified) superseded \(superseded) lost \(sent - notified - superseded) "
        + "p50_ms \(percentile(0.5)) p99_ms \(percentile(0.99)) max_ms \(sorted.last.map { String(format: "%.2f", Double($0) / 1e6) } ?? "-")"
        + " answer_p50_ms \(percentile(0.5, of: answered)) answer_p99_ms \(percentile(0.99, of: answered))")
    try await Task.sleep(for: .seconds(1))
}

// Every subscription ended (up to 20 s; one resend of the unanswered after 2 s).
try await loop.submit { fanout.startUnsubscribing() }.get()
let leaveUntil = now() + 20_000_000_000
var resentLeaves = false
while now() < leaveUntil {
    let (remaining, inFlight) = try await loop.submit { (fanout.toLeave.count, fanout.leaving.count) }.get()
    if remaining == 0 && inFlight == 0 { break }
    if !resentLeaves, now() > leaveUntil - 18_000_000_000 {
        resentLeaves = true
        try await loop.submit { for i in fanout.leaving { fanout.unsubscribe(i) } }.get()
    }
    try await Task.sleep(for: .milliseconds(20))
}
let left = try await loop.submit { fanout.left }.get()
say("unsubscribed \(left) of \(subscribed)")
// The final NOTIFYs are answered before the socket closes.
try await Task.sleep(for: .milliseconds(500))
try await channel.close().get()
