import Foundation
public import Logging
import Metrics
import SIP
import Synchronization
import SIPTransport
public import Storage
import UnifiedMessaging

/// Peer health (SPEC §2.6): SIP OPTIONS to every enabled gateway each `healthInterval`.
/// Any answer means up; a timeout or a transport error means down. When a gateway comes
/// back, every mailbox behind it is re-sent at once (`recovered`), so lamps are right
/// again within seconds of a PBX reboot. The dispatcher skips gateways known to be down
/// (a circuit breaker) unless all of a mailbox's gateways are down.
public actor GatewayHealth {
    private let storage: any Storage
    private let transport: any NotifyTransport
    private let interval: Duration
    private let logger: Logger
    private let recovered: @Sendable (String) async -> Void
    private var down: Set<String> = [] {
        didSet { downNow.withLock { $0 = down } }
    }
    /// `down`, for the dispatcher's hot path: read without a hop into the actor.
    private nonisolated let downNow = Mutex<Set<String>>([])
    private let downGauge = Gauge(label: "mwid_mwi_gateways_down")

    public init(storage: any Storage, transport: any NotifyTransport, interval: Duration,
                logger: Logger = Logger(label: "mwid.health"), recovered: @escaping @Sendable (String) async -> Void) {
        self.storage = storage
        self.transport = transport
        self.interval = interval
        self.logger = logger
        self.recovered = recovered
    }

    public func isDown(_ gateway: String) -> Bool { down.contains(gateway) }

    /// The gateways known down now.
    public nonisolated func downGateways() -> Set<String> { downNow.withLock { $0 } }

    /// Marks a gateway down after a transport failure of a delivery, before the next
    /// probe confirms it.
    public func deliveryFailed(_ gateway: String) async {
        await changed(gateway, up: false)
    }

    /// Probes every enabled gateway each interval until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            await probeAll()
            try? await Task.sleep(for: interval)
        }
    }

    func probeAll() async {
        guard let gateways = try? await storage.gateways(), let plans = try? await storage.dialPlans() else { return }
        let byName = Dictionary(plans.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        await withTaskGroup(of: (String, Bool).self) { group in
            for gateway in gateways where gateway.status == .enabled {
                let plan = gateway.dialPlans.first.flatMap { byName[$0] } ?? DialPlan(name: "", numberOfDigitsInExtension: 1)
                let transport = self.transport
                group.addTask { (gateway.name, await Self.probe(gateway, plan: plan, transport: transport)) }
            }
            for await (name, up) in group { await changed(name, up: up) }
        }
        down.formIntersection(gateways.map(\.name))  // forget removed gateways
        downGauge.record(down.count)
    }

    private func changed(_ name: String, up: Bool) async {
        if up, down.remove(name) != nil {
            downGauge.record(down.count)
            logger.notice("IP gateway is up again", metadata: ["gateway": "\(name)"])
            try? await storage.log(.info, kind: "gateway.up", subject: name,
                                   message: "IP gateway \(name) answers again; resending every lamp behind it")
            await recovered(name)
        } else if !up, down.insert(name).inserted {
            downGauge.record(down.count)
            logger.warning("IP gateway is down", metadata: ["gateway": "\(name)"])
            try? await storage.log(.warning, kind: "gateway.down", subject: name, message: "IP gateway \(name) does not answer OPTIONS")
        }
    }

    static func probe(_ gateway: IPGateway, plan: DialPlan, transport: any NotifyTransport) async -> Bool {
        let kind = MWINotify.transport(for: gateway, dialPlan: plan)
        let (host, _) = await transport.sentBy(kind)
        let address = gateway.address.hasPrefix("[") ? String(gateway.address.dropFirst().dropLast()) : gateway.address
        let uriHost = address.utf8.contains(UInt8(ascii: ":")) ? "[\(address)]" : address
        let target = SIPURI(host: uriHost, port: UInt16(clamping: gateway.port))
        let request = SIPMessage.request(
            method: .options, uri: target,
            from: SIPNameAddress(uri: SIPURI(user: "mwid", host: host), parameters: [("tag", SIPIdentifiers.tag())]),
            to: SIPNameAddress(uri: target), callID: SIPIdentifiers.callID(), cseq: 1,
            headers: [(.accept, "application/simple-message-summary")])
        do {
            _ = try await transport.send(request, to: SIPPeer(host: address, port: gateway.port, transport: kind))
            return true
        } catch {
            return false
        }
    }
}
