public import Foundation

extension Peers {
    /// stunnel in the foreground: TLS on `accept` to TCP `connect` (server), or the
    /// reverse when `client` is true.
    public static func stunnel(accept: Int, connect: Int, client: Bool, pki: TestPKI, in dir: URL) throws -> PeerProcess {
        guard let stunnel = executable("stunnel4") ?? executable("stunnel") else {
            throw PeerError("stunnel is not installed (apt-get install stunnel4)")
        }
        let config = dir.appendingPathComponent("stunnel-\(accept).conf")
        var text = "foreground = yes\npid =\ndebug = notice\n[sip]\naccept = 127.0.0.1:\(accept)\nconnect = 127.0.0.1:\(connect)\n"
        text += client ? "client = yes\nverifyChain = yes\nCAfile = \(pki.caFile)\ncheckIP = 127.0.0.1\n" : "cert = \(pki.certificateFile)\nkey = \(pki.keyFile)\n"
        try text.write(to: config, atomically: true, encoding: .utf8)
        return try PeerProcess("stunnel-\(accept)", stunnel, [config.path], in: dir)
    }

}
