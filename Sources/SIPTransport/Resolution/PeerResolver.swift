import CResolv
import NIOCore

/// Where requests to a peer named by host name go (RFC 3263 §4.2, without NAPTR): with
/// no port, the SRV records of `_sip._udp`, `_sip._tcp` or `_sips._tcp` at the name, in
/// RFC 2782 order, each target's A then AAAA addresses; without SRV records, or with a
/// port, the name's own A and AAAA addresses. The answer lives as long as the shortest TTL
/// of the records it came from (at most `longestCacheTime`).
///
/// DNS goes through glibc's stub resolver (the servers of /etc/resolv.conf, or one
/// configured `server`). A name DNS does not know (one of /etc/hosts, say) is then looked
/// up with getaddrinfo and kept for `longestCacheTime`. Blocking: run it off the event loop.
struct PeerResolver: Sendable {
    /// Replaces /etc/resolv.conf's name servers: an IPv4 address and a port.
    var server: (host: String, port: Int)?
    var queryTimeoutSeconds: Int
    /// Seconds.
    var longestCacheTime: Int64

    struct Resolution: Equatable {
        /// In the order to try them.
        var addresses: [SocketAddress]
        /// Seconds the answer may be reused.
        var ttl: Int64
    }

    /// What a DNS query gave.
    enum Outcome: Equatable {
        case answer(DNSAnswer)
        /// The name or its records of that type do not exist.
        case none
        /// No answer: the server is unreachable, failed or refused.
        case failed
    }

    static func serviceName(_ host: String, transport: SIPTransportKind) -> String {
        switch transport {
        case .udp: "_sip._udp.\(host)"
        case .tcp: "_sip._tcp.\(host)"
        case .tls: "_sips._tcp.\(host)"
        }
    }

    func resolve(host: String, port: Int?, transport: SIPTransportKind) throws(SIPTransportError) -> Resolution {
        if let port { return try addresses(of: host, port: port) }
        guard case .answer(let answer) = query(Self.serviceName(host, transport: transport), type: DNSAnswer.typeSRV),
              !answer.srvRecords.isEmpty else {
            return try addresses(of: host, port: transport.defaultPort)
        }
        let records = answer.srvRecords
        if records.allSatisfy({ $0.target.isEmpty }) {
            throw .resolutionFailed("\(host): its SRV record says there is no SIP service over \(transport)")
        }
        var found: [SocketAddress] = []
        var ttl = Int64(answer.ttl ?? 0)
        for record in Self.order(records.filter { !$0.target.isEmpty }, random: { UInt64.random(in: 0...$0) }) {
            guard let target = try? addresses(of: record.target, port: Int(record.port)) else { continue }
            found += target.addresses
            ttl = min(ttl, target.ttl)
        }
        guard !found.isEmpty else { throw .resolutionFailed("\(host): no SRV target resolves") }
        return Resolution(addresses: found, ttl: min(ttl, longestCacheTime))
    }

    /// A name's A then AAAA addresses, with the port given.
    func addresses(of name: String, port: Int) throws(SIPTransportError) -> Resolution {
        var found: [SocketAddress] = []
        var ttl = longestCacheTime
        let v4 = query(name, type: DNSAnswer.typeA)
        // An unreachable server would only make the AAAA query wait as long again.
        let v6 = v4 == .failed ? .failed : query(name, type: DNSAnswer.typeAAAA)
        for case .answer(let answer) in [v4, v6] {
            for entry in answer.entries {
                let address: SocketAddress?
                switch entry.record {
                case .a(let bytes): address = try? SocketAddress(ipAddress: bytes.map(String.init).joined(separator: "."), port: port)
                case .aaaa(let bytes): address = try? SocketAddress(ipAddress: Self.ipv6Text(bytes), port: port)
                case .srv: address = nil
                }
                guard let address else { continue }
                found.append(address)
                ttl = min(ttl, Int64(entry.ttl))
            }
        }
        if !found.isEmpty { return Resolution(addresses: found, ttl: ttl) }
        // Not in DNS (or no DNS): the system's look-up, /etc/hosts included.
        guard let address = try? SocketAddress.makeAddressResolvingHost(name, port: port) else {
            throw .resolutionFailed(name)
        }
        return Resolution(addresses: [address], ttl: longestCacheTime)
    }

    func query(_ name: String, type: Int32) -> Outcome {
        var answer = [UInt8](repeating: 0, count: 4096)
        var error: Int32 = 0
        let length = answer.withUnsafeMutableBufferPointer { buffer in
            if let server {
                mwid_dns_query(server.host, Int32(server.port), name, type, buffer.baseAddress, Int32(buffer.count),
                               Int32(queryTimeoutSeconds), &error)
            } else {
                mwid_dns_query(nil, 0, name, type, buffer.baseAddress, Int32(buffer.count), Int32(queryTimeoutSeconds), &error)
            }
        }
        guard length > 0 else {
            return Int(error) == Int(MWID_DNS_NOT_FOUND) || Int(error) == Int(MWID_DNS_NO_DATA) ? .none : .failed
        }
        guard let parsed = try? DNSAnswer(parsing: Array(answer[..<Int(length)])) else { return .failed }
        return .answer(parsed)
    }

    /// RFC 2782's order: by priority, lowest first; within a priority, each next record
    /// drawn at random in proportion to its weight (`random(n)` is uniform in 0...n).
    static func order(_ records: [SRVRecord], random: (UInt64) -> UInt64) -> [SRVRecord] {
        var ordered: [SRVRecord] = []
        let priorities = Set(records.map(\.priority)).sorted()
        for priority in priorities {
            // Weight 0 first, as the RFC asks, so that they are picked only when drawn at 0.
            var remaining = records.filter { $0.priority == priority }.sorted { ($0.weight == 0 ? 0 : 1) < ($1.weight == 0 ? 0 : 1) }
            while !remaining.isEmpty {
                let total = remaining.reduce(UInt64(0)) { $0 + UInt64($1.weight) }
                let draw = random(total)
                var running: UInt64 = 0
                var chosen = remaining.count - 1
                for (index, record) in remaining.enumerated() {
                    running += UInt64(record.weight)
                    if running >= draw {
                        chosen = index
                        break
                    }
                }
                ordered.append(remaining.remove(at: chosen))
            }
        }
        return ordered
    }

    static func ipv6Text(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")
    }
}
