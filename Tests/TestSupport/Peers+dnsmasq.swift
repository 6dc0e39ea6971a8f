public import Foundation

extension Peers {
    /// dnsmasq in the foreground as an authoritative DNS server for `domain` on
    /// 127.0.0.1:`port` (UDP and TCP), answering only from its `records` (dnsmasq options
    /// such as `srv-host=…` and `host-record=…`) with `ttl`: any other name in the domain
    /// is NXDOMAIN, and nothing is forwarded.
    public static func dnsmasq(port: Int, domain: String, records: [String], ttl: Int, in dir: URL) throws -> PeerProcess {
        guard let dnsmasq = executable("dnsmasq") else { throw PeerError("dnsmasq is not installed (apt-get install dnsmasq-base)") }
        let config = dir.appendingPathComponent("dnsmasq-\(port).conf")
        let lines = ["port=\(port)", "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts", "no-poll",
                     "local=/\(domain)/", "local-ttl=\(ttl)", "log-queries", "pid-file="] + records
        try (lines.joined(separator: "\n") + "\n").write(to: config, atomically: true, encoding: .utf8)
        return try PeerProcess("dnsmasq-\(port)", dnsmasq, ["--keep-in-foreground", "--log-facility=-", "--conf-file=\(config.path)"],
                               in: dir)
    }
}
