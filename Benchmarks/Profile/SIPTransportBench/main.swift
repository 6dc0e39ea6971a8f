import Foundation
import CMallocStats
import NIOCore
import NIOPosix
import SIP
import SIPTransport

// Usage:
//   SIPTransportBench throughput udp|tcp PORT COUNT WINDOW   NOTIFY transactions to 127.0.0.1:PORT
//   SIPTransportBench memory COUNT                           COUNT transactions in flight to a black hole
let args = CommandLine.arguments

func rssBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return fields.count > 1 ? (Int(fields[1]) ?? 0) * 4096 : 0
}

/// The resident size once malloc has given back what it holds free: what is in use.
func trimmedRSS() -> Int {
    cmallocstats_trim()
    return rssBytes()
}

func notify(_ i: Int, port: Int) -> SIPMessage {
    let summary = MessageSummary(voice: .init(new: UInt32(i % 7), old: 3, urgentNew: 0, urgentOld: 1), messageAccount: "sip:\(1000 + i % 100_000)@127.0.0.1")
    return SIPMessage.request(
        method: .notify, uri: SIPURI(user: "\(1000 + i % 100_000)", host: "127.0.0.1", port: UInt16(port)),
        from: SIPNameAddress(uri: SIPURI(user: "mwid", host: "127.0.0.1"), parameters: [("tag", "b\(i)")]),
        to: SIPNameAddress(uri: SIPURI(user: "\(1000 + i % 100_000)", host: "127.0.0.1")),
        callID: "bench-\(i)@127.0.0.1", cseq: 1,
        headers: [(.event, "message-summary"), (.subscriptionState, "terminated;reason=noresource")],
        contentType: .simpleMessageSummary, body: summary.bytes)
}

/// Keeps WINDOW transactions in flight until COUNT have completed; returns (ok, failed, seconds).
final class Pump: @unchecked Sendable {
    let endpoint: SIPEndpoint
    let peer: SIPPeer
    let count: Int
    let requests: [SIPMessage]
    var started = 0
    var ok = 0
    var failed = 0
    let done: EventLoopPromise<Void>

    init(endpoint: SIPEndpoint, peer: SIPPeer, count: Int, requests: [SIPMessage]) {
        self.endpoint = endpoint
        self.peer = peer
        self.count = count
        self.requests = requests
        done = endpoint.eventLoop.makePromise()
    }

    // Runs on the endpoint's event loop (completions arrive there).
    func next() {
        guard started < count else { return }
        let request = requests[started % requests.count]
        started += 1
        endpoint.send(request, to: peer) { result in
            switch result {
            case .success(let r) where r.statusCode == 200: self.ok += 1
            default: self.failed += 1
            }
            if self.ok + self.failed == self.count { self.done.succeed() } else { self.next() }
        }
    }
}

func throughput(transport: SIPTransportKind, port: Int, count: Int, window: Int) async throws {
    let config = SIPEndpointConfiguration(udp: ["127.0.0.1:0"], tcp: ["127.0.0.1:0"], timers: SIPTimers(t1: .milliseconds(500)))
    let endpoint = SIPEndpoint(configuration: config, router: SIPRequestRouter())
    try await endpoint.start()
    let peer = SIPPeer(host: "127.0.0.1", port: port, transport: transport)
    let requests = (0..<1_000).map { notify($0, port: port) }
    // Warm up (connection, caches).
    _ = try? await endpoint.send(requests[0], to: peer)
    let pump = Pump(endpoint: endpoint, peer: peer, count: count, requests: requests)
    let clock = ContinuousClock()
    let start = clock.now
    try await endpoint.eventLoop.submit { for _ in 0..<window { pump.next() } }.get()
    try await pump.done.futureResult.get()
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let (ok, failed) = try await endpoint.eventLoop.submit { (pump.ok, pump.failed) }.get()
    print("throughput \(transport): \(count) NOTIFY transactions, window \(window): \(Int(Double(count) / seconds)) /s (\(ok) × 200, \(failed) failed) in \(String(format: "%.2f", seconds)) s")
    await endpoint.shutdown()
}

func memory(count: Int) async throws {
    // A UDP socket that reads and drops everything: transactions stay in flight.
    let sink = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = sink.localAddress?.port ?? 0
    let config = SIPEndpointConfiguration(udp: ["127.0.0.1:0"], tcp: [], timers: SIPTimers(t1: .seconds(60), timeout: .seconds(300)))
    let endpoint = SIPEndpoint(configuration: config, router: SIPRequestRouter())
    try await endpoint.start()
    let peer = SIPPeer(host: "127.0.0.1", port: port, transport: .udp)
    let requests = (0..<count).map { notify($0, port: port) }
    try await endpoint.eventLoop.submit {}.get()
    let before = trimmedRSS()
    // Submitted from the event loop in slices, so that the loop's task queue never holds
    // them all at once (that queue is not the transactions' memory).
    var next = 0
    while next < count {
        let slice = Array(requests[next..<min(count, next + 1_000)])
        try await endpoint.eventLoop.submit { for r in slice { endpoint.send(r, to: peer) { _ in } } }.get()
        next += slice.count
    }
    while await endpoint.transactionCounts().client < count { try await Task.sleep(for: .milliseconds(50)) }
    let after = try await endpoint.eventLoop.submit { trimmedRSS() }.get()
    withExtendedLifetime(requests) {}  // the requests must not be freed before `after`
    let size = requests.first.map { $0.serialize().count + 70 } ?? 0  // with the Via the transport adds
    print("memory: \(count) client transactions in flight: RSS +\((after - before) / 1024) KiB = \((after - before) / count) bytes per transaction, after malloc_trim (a NOTIFY of about \(size) bytes, state, timer entry, callback)")
    await endpoint.shutdown()
    try await sink.close()
}

switch args.dropFirst().first {
case "throughput":
    guard args.count >= 6, let transport = SIPTransportKind(name: args[2]), let port = Int(args[3]), let count = Int(args[4]), let window = Int(args[5]) else {
        print("usage: SIPTransportBench throughput udp|tcp PORT COUNT WINDOW")
        exit(2)
    }
    try await throughput(transport: transport, port: port, count: count, window: window)
case "calibrate":
    // The same measure on 100 000 buffers of 450 bytes: it should say about 470 each.
    let before = trimmedRSS()
    let buffers = (0..<100_000).map { i in ByteBuffer(bytes: [UInt8](repeating: UInt8(i & 0xFF), count: 450)) }
    let after = trimmedRSS()
    print("calibrate: \(buffers.count) buffers of 450 bytes: \((after - before) / buffers.count) bytes each")
case "memory":
    try await memory(count: args.count > 2 ? Int(args[2]) ?? 100_000 : 100_000)
default:
    print("usage: SIPTransportBench throughput udp|tcp PORT COUNT WINDOW | memory COUNT")
    exit(2)
}
