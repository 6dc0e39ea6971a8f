import Foundation
import NIOCore
import NIOPosix
import SIP

// A crowd of phones subscribing to their mailboxes on a running mwid, over UDP, with
// digest (bench/subscriptions/run drives it):
//
//   SubscribeBench subscribe MWID_PORT COUNT WINDOW [FIRST]
//       phones 0…COUNT-1 subscribe to extensions FIRST+i (7 digits, password "secret"),
//       WINDOW at a time: SUBSCRIBE, 401, SUBSCRIBE with credentials, 200, the first
//       NOTIFY answered 200. Then it stays, answering NOTIFYs, and reads commands on
//       standard input: `mark` forgets the NOTIFYs counted so far, `report` prints
//       "notifies N first_ns F last_ns L" (monotonic ns), `quit` (or end of input) ends it.
//       mwid keeps the subscriptions.
//
// Prints "subscribed N in S s: R/s (X failed)" once the crowd is subscribed.

let args = CommandLine.arguments

/// One line on standard output, at once (a pipe would buffer `print`).
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// The phones' state, confined to the event loop of their socket.
final class Crowd: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let mwid: SocketAddress
    let count: Int
    let window: Int
    let first: Int
    let localPort: Int
    var context: ChannelHandlerContext?
    var started = 0
    var subscribed = 0
    var failed = 0
    var notifies = 0
    var firstNotify: UInt64 = 0
    var lastNotify: UInt64 = 0
    var startTime: UInt64 = 0
    var doneTime: UInt64 = 0
    let done: EventLoopPromise<Void>
    var rng = BufferedSystemRandom()

    init(mwid: SocketAddress, count: Int, window: Int, first: Int, localPort: Int, done: EventLoopPromise<Void>) {
        self.mwid = mwid
        self.count = count
        self.window = window
        self.first = first
        self.localPort = localPort
        self.done = done
    }

    func ext(_ i: Int) -> String { String(format: "%07d", first + i) }

    func subscribe(_ i: Int, cseq: UInt32, authorization: String?) {
        guard let context else { return }
        let uri = SIPURI(user: ext(i), host: "127.0.0.1", port: UInt16(mwid.port ?? 5060))
        var headers: [(SIPHeaderName, String)] = [(.event, "message-summary"), (.accept, "application/simple-message-summary"),
                                                  (.expires, "3600")]
        if let authorization { headers.append((.authorization, authorization)) }
        let request = SIPMessage.request(
            method: .subscribe, uri: uri,
            via: SIPVia(transport: "UDP", host: "127.0.0.1", port: UInt16(localPort), branch: SIPIdentifiers.branch(using: &rng)),
            from: SIPNameAddress(uri: uri, parameters: [("tag", "p\(i)")]), to: SIPNameAddress(uri: uri),
            callID: "sub-\(i)@bench", cseq: cseq,
            contact: SIPNameAddress(uri: SIPURI(user: "p\(i)", host: "127.0.0.1", port: UInt16(localPort))), headers: headers)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: mwid, data: ByteBuffer(bytes: request.serialize()))),
                              promise: nil)
    }

    func next() {
        guard started < count else { return }
        let i = started
        started += 1
        subscribe(i, cseq: 1, authorization: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        startTime = now()
        for _ in 0..<min(window, count) { next() }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let message = envelope.data.withUnsafeReadableBytes({ try? SIPParser.parseDatagram($0) }) else { return }
        if message.isRequest {
            // A NOTIFY: answer 200, count it.
            let at = now()
            if message.method == .notify {
                notifies += 1
                if firstNotify == 0 { firstNotify = at }
                lastNotify = at
            }
            let ok = message.makeResponse(statusCode: 200)
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress,
                                                                    data: ByteBuffer(bytes: ok.serialize()))), promise: nil)
            return
        }
        guard let callID = message.callID, callID.hasPrefix("sub-"), let i = Int(callID.dropFirst(4).prefix { $0 != "@" }),
              let code = message.statusCode, code >= 200 else { return }
        switch code {
        case 401:
            guard let challenge = (try? message.wwwAuthenticate())?.lazy.compactMap({ try? DigestChallenge($0) }).first else {
                return finish(failed: true)
            }
            let uri = SIPURI(user: ext(i), host: "127.0.0.1", port: UInt16(mwid.port ?? 5060))
            let credentials = SIPDigest.answer(challenge, method: .subscribe, uri: uri.description, username: ext(i),
                                               password: "secret", cnonce: SIPDigest.makeCNonce(using: &rng))
            subscribe(i, cseq: 2, authorization: credentials.header.description)
        case 200..<300:
            finish(failed: false)
        default:
            finish(failed: true)
        }
    }

    func finish(failed isFailure: Bool) {
        if isFailure { failed += 1 } else { subscribed += 1 }
        if subscribed + failed == count {
            doneTime = now()
            done.succeed()
        } else {
            next()
        }
    }
}

guard args.count >= 5, args[1] == "subscribe", let port = Int(args[2]), let count = Int(args[3]), let window = Int(args[4]) else {
    say("usage: SubscribeBench subscribe MWID_PORT COUNT WINDOW [FIRST]")
    exit(2)
}
let firstExtension = args.count > 5 ? Int(args[5]) ?? 0 : 0
let group = MultiThreadedEventLoopGroup.singleton
let loop = group.next()
let done = loop.makePromise(of: Void.self)
let mwid = try SocketAddress(ipAddress: "127.0.0.1", port: port)
// Bind first to learn the port the Via and Contact must carry.
let probe = try await DatagramBootstrap(group: loop).bind(host: "127.0.0.1", port: 0).get()
let localPort = probe.localAddress?.port ?? 0
try await probe.close().get()
let crowd = Crowd(mwid: mwid, count: count, window: window, first: firstExtension, localPort: localPort, done: done)
let channel = try await DatagramBootstrap(group: loop)
    .channelOption(.socketOption(.so_rcvbuf), value: 8 << 20)
    .channelOption(.socketOption(.so_sndbuf), value: 8 << 20)
    .channelOption(.maxMessagesPerRead, value: 16)
    .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(crowd) } }
    .bind(host: "127.0.0.1", port: localPort).get()
try await done.futureResult.get()
let (subscribed, failed, seconds) = try await loop.submit {
    (crowd.subscribed, crowd.failed, Double(crowd.doneTime - crowd.startTime) / 1e9)
}.get()
say("subscribed \(subscribed) in \(String(format: "%.2f", seconds)) s: \(Int(Double(subscribed) / seconds))/s (\(failed) failed)")
// Stay, answering NOTIFYs, until told to quit.
while let command = readLine(), command != "quit" {
    if command == "mark" {
        try await loop.submit { crowd.notifies = 0; crowd.firstNotify = 0; crowd.lastNotify = 0 }.get()
    } else if command == "report" {
        let (notifies, firstNotify, lastNotify) = try await loop.submit { (crowd.notifies, crowd.firstNotify, crowd.lastNotify) }.get()
        say("notifies \(notifies) first_ns \(firstNotify) last_ns \(lastNotify)")
    }
}
try await channel.close().get()
