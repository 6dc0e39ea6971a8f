import ArgumentParser
import Dispatch
import Foundation
import Logging
import SIP
import SIPTransport

/// The mwid server. This version runs the SIP endpoint (UDP, TCP, TLS listeners;
/// OPTIONS answered, other methods refused with 405) until SIGTERM or SIGINT; the
/// directory, the REST API and the MWI engine arrive with their issues.
@main
struct MWID: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mwid",
        abstract: "Message Waiting Indicator server for unified messaging.",
        discussion: """
            Keeps the voicemail lamp on every phone true: RFC 3842 message-summary \
            NOTIFYs to PBXs and gateways, subscriptions from phones, SMS notifications.

            Example:
              mwid --sip-udp 127.0.0.1:5060 --sip-tcp 127.0.0.1:5060 \\
                   --sip-tls 127.0.0.1:5061 --tls-certificate cert.pem --tls-key key.pem
            """,
        version: MWIDVersion.string
    )

    @Option(name: .customLong("sip-udp"), help: "SIP over UDP listener, HOST:PORT (repeatable; default 127.0.0.1:5060).")
    var sipUDP: [String] = []

    @Option(name: .customLong("sip-tcp"), help: "SIP over TCP listener, HOST:PORT (repeatable; default 127.0.0.1:5060).")
    var sipTCP: [String] = []

    @Option(name: .customLong("sip-tls"), help: "SIP over TLS listener, HOST:PORT (repeatable; none by default).")
    var sipTLS: [String] = []

    @Option(name: .customLong("sip-advertised-host"), help: "Host written in Via and Contact (default: the listener's address).")
    var advertisedHost: String?

    @Option(name: .customLong("tls-certificate"), help: "PEM certificate chain for TLS (server, and client with --tls-client-certificate).")
    var tlsCertificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-certificate.")
    var tlsKey: String?

    @Option(name: .customLong("tls-ca"), help: "PEM CA certificates that peers are verified against (default: the system roots).")
    var tlsCA: String?

    @Flag(name: .customLong("tls-client-certificate"), help: "Present the certificate when connecting out (mutual TLS).")
    var tlsClientCertificate = false

    @Flag(name: .customLong("tls-require-client-certificate"), help: "Require and verify a certificate from TLS peers connecting in.")
    var tlsRequireClientCertificate = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        var logger = Logger(label: "mwid")
        logger.logLevel = level
        var sipLogger = Logger(label: "mwid.sip")
        sipLogger.logLevel = level

        let tls = (tlsCertificate != nil || tlsKey != nil || tlsCA != nil)
            ? SIPTLSConfiguration(certificateChainFile: tlsCertificate, privateKeyFile: tlsKey, trustRootsFile: tlsCA,
                                  presentClientCertificate: tlsClientCertificate, requireClientCertificate: tlsRequireClientCertificate)
            : nil
        let configuration = SIPEndpointConfiguration(
            udp: sipUDP.isEmpty ? ["127.0.0.1:5060"] : sipUDP,
            tcp: sipTCP.isEmpty ? ["127.0.0.1:5060"] : sipTCP,
            tls: sipTLS, advertisedHost: advertisedHost, tlsConfiguration: tls)
        let endpoint = SIPEndpoint(configuration: configuration, router: SIPRequestRouter(), logger: sipLogger)
        do {
            try await endpoint.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        for (transport, address) in await endpoint.localAddresses() {
            let ip = address.ipAddress ?? "?"
            let shown = ip.contains(":") ? "[\(ip)]:\(address.port ?? 0)" : "\(ip):\(address.port ?? 0)"
            logger.info("SIP listening", metadata: ["transport": "\(transport)", "address": "\(shown)"])
        }
        logger.info("mwid \(MWIDVersion.string) ready")
        let signal = await Self.waitForTerminationSignal()
        logger.info("stopping on \(signal)")
        await endpoint.shutdown()
        logger.info("stopped")
    }

    /// Suspends until SIGTERM or SIGINT arrives, and returns its name.
    static func waitForTerminationSignal() async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let queue = DispatchQueue(label: "mwid.signals")
            let resumed = ResumeOnce(continuation)
            var sources: [any DispatchSourceSignal] = []
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                Foundation.signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { resumed.resume(name) }
                source.resume()
                sources.append(source)
            }
            resumed.keep(sources)
        }
    }
}

/// Resumes a continuation at most once, from any thread; keeps the signal sources that
/// resume it alive (they hold it through their handlers, it holds them).
final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<String, Never>?
    private var sources: [any DispatchSourceSignal] = []

    func keep(_ sources: [any DispatchSourceSignal]) {
        lock.lock()
        self.sources = sources
        lock.unlock()
    }

    init(_ continuation: CheckedContinuation<String, Never>) { self.continuation = continuation }

    func resume(_ value: String) {
        lock.lock()
        let c = continuation
        continuation = nil
        lock.unlock()
        c?.resume(returning: value)
    }
}

enum MWIDVersion {
    static let string = "0.1.0"
}
