public import AdminAPI
import ArgumentParser
import CJemalloc
import Foundation
import Hummingbird
import Logging
import MWI
import Metrics
import Notifications
import NIOCore
import Prometheus
import SIP
import SIPTransport
import ServiceLifecycle
import Storage
import Synchronization
import UnifiedMessaging

/// The mwid server: the directory on its storage, the REST API and the SIP endpoint,
/// run as one service group that stops gracefully on SIGTERM or SIGINT.
@main
struct MWID: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mwid",
        abstract: "Message Waiting Indicator server for unified messaging.",
        discussion: """
            Keeps the voicemail lamp on every phone true: RFC 3842 message-summary \
            NOTIFYs to PBXs and gateways, subscriptions from phones, SMS notifications.
            With no arguments: data in ./mwid-data (SQLite), HTTP on 127.0.0.1:8080, SIP on \
            UDP and TCP 127.0.0.1:5060. Flags override the --config file, which overrides \
            the defaults.

            Examples:
              mwid
              mwid --config /etc/mwid/mwid.yaml
              mwid --data /var/lib/mwid --http 0.0.0.0:8080 --sip-udp 0.0.0.0:5060 \\
                   --sip-tls 0.0.0.0:5061 --tls-certificate cert.pem --tls-key key.pem
            """,
        version: MWIDVersion.string
    )

    @Option(name: .customLong("config"), help: "YAML configuration file (see docs/configuration.md).")
    var configFile: String?

    @Option(name: .customLong("data"), help: "Data folder: SQLite database and admin.token (default ./mwid-data).")
    var data: String?

    @Option(name: .customLong("storage-sync"),
            help: "full: every commit synced before it is answered (default); normal: not synced, survives a crash of mwid but a power cut may lose the last writes.")
    var storageSync: String?

    @Option(name: .customLong("http"), help: "HTTP listener for the REST API, HOST:PORT (default 127.0.0.1:8080).")
    var http: String?

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

    @Option(name: .customLong("sip-t1"), help: "SIP timer T1 in milliseconds (default 500); T2 and the timeout follow.")
    var sipT1: Int?

    @Option(name: .customLong("sip-dns-server"),
            help: "IPv4:PORT of the DNS server that gateways' and phones' host names are resolved with (SRV, A, AAAA; default: /etc/resolv.conf's).")
    var sipDNSServer: String?

    @Option(name: .customLong("mwi-notify-interval"), help: "At most one NOTIFY per mailbox in this many seconds (default 5).")
    var mwiNotifyInterval: Double?

    @Option(name: .customLong("mwi-notify-window"),
            help: "NOTIFYs to gateways sent and not yet answered, at most; more wait their turn (default 2048).")
    var mwiNotifyWindow: Int?

    @Option(name: .customLong("mwi-retry-window"), help: "Seconds a state is retried when every gateway fails (default 300).")
    var mwiRetryWindow: Double?

    @Option(name: .customLong("mwi-health-interval"), help: "Seconds between SIP OPTIONS to each gateway (default 30; 0: none).")
    var mwiHealthInterval: Double?

    @Option(name: .customLong("mwi-refresh-interval"), help: "Every lamp is re-sent once per this many seconds, spread evenly (default 43200; 0: never).")
    var mwiRefreshInterval: Double?

    @Option(name: .customLong("sip-realm"), help: "Digest realm of mwid's challenges (default: --sip-advertised-host, else mwid).")
    var sipRealm: String?

    @Option(name: .customLong("sip-trusted-peer"),
            help: "ADDRESS or NETWORK/PREFIX allowed to SUBSCRIBE to any mailbox without digest (repeatable; none by default).")
    var sipTrustedPeers: [String] = []

    @Option(name: .customLong("sip-request-rate"), help: "SUBSCRIBE and REGISTER requests per second one address may send (default 20).")
    var sipRequestRate: Double?

    @Option(name: .customLong("sip-request-burst"), help: "… and in a burst (default 100).")
    var sipRequestBurst: Double?

    @Option(name: .customLong("digest-nonce-lifetime"), help: "Seconds a digest nonce is good for (default 300).")
    var digestNonceLifetime: Int?

    @Option(name: .customLong("digest-algorithms"), help: "Digest algorithms offered in a 401, in order: MD5, SHA-256 (default MD5).")
    var digestAlgorithms: String?

    @Option(name: .customLong("subscription-min-expires"), help: "Shortest subscription granted, in seconds (default 60; shorter: 423).")
    var subscriptionMinExpires: Int?

    @Option(name: .customLong("subscription-max-expires"), help: "Longest subscription granted, in seconds (default 86400).")
    var subscriptionMaxExpires: Int?

    @Option(name: .customLong("subscriptions-per-mailbox"), help: "Live subscriptions per mailbox (default 20; beyond: 503).")
    var subscriptionsPerMailbox: Int?

    @Option(name: .customLong("subscriptions-total"), help: "Live subscriptions in all (default 200000; beyond: 503).")
    var subscriptionsTotal: Int?

    @Option(name: .customLong("subscription-notify-window"),
            help: "NOTIFYs to subscribers sent and not yet answered, at most; more wait their turn (default 1024).")
    var subscriptionNotifyWindow: Int?

    @Option(name: .customLong("sms-carriers"), help: "Carrier catalog (YAML: SMS routes, and carriers by locale) applied at start.")
    var smsCarriers: String?

    @Option(name: .customLong("sms-retry-backoff"), help: "Seconds before a failed text is tried again, doubling each time (default 30).")
    var smsRetryBackoff: Double?

    @Option(name: .customLong("sms-retry-window"), help: "Seconds after which a text still failing fails for good (default 14400).")
    var smsRetryWindow: Double?

    @Option(name: .customLong("sms-code-lifetime"), help: "Seconds a set-up passcode is good for (default 900).")
    var smsCodeLifetime: Double?

    @Option(name: .customLong("sms-response-timeout"), help: "Seconds an SMSC has to answer an SMPP request (default 10).")
    var smsResponseTimeout: Double?

    @Option(name: .customLong("sms-throttle-delay"), help: "Seconds an SMPP bind pauses after ESME_RTHROTTLED (default 1).")
    var smsThrottleDelay: Double?

    @Option(name: .customLong("sms-reconnect-backoff"), help: "Seconds before binding again after a lost SMPP link, doubling (default 0.5).")
    var smsReconnectBackoff: Double?

    @Option(name: .customLong("sms-smtp-idle-timeout"),
            help: "Seconds an SMTP connection stays open for the next text; 0 closes it after each text (default 30).")
    var smsSMTPIdleTimeout: Double?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    func run() async throws {
        do {
            try await serve()
        } catch let failure as StartupFailure {
            FileHandle.standardError.write(Data("mwid: \(failure.message)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// The allocator serving this process: jemalloc, which mwid links (its arenas and
    /// thread caches cost a busy mwid 5–10 % less CPU than glibc's malloc, measured), or
    /// glibc's when something ahead of it in the link order took its place.
    static func allocator() -> String {
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else { return "glibc malloc" }
        // Loaded is not enough: the malloc everything binds to must be jemalloc's own.
        let jemalloc = dlopen("libjemalloc.so.2", RTLD_NOW | RTLD_NOLOAD)
        defer { if let jemalloc { dlclose(jemalloc) } }
        let bound = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc")  // RTLD_DEFAULT
        let serving = jemalloc != nil && bound != nil && bound == dlsym(jemalloc, "malloc")
        return serving ? "jemalloc " + String(cString: version) : "glibc malloc (jemalloc loaded but not in use)"
    }

    private func serve() async throws {
        let file: FileConfiguration
        do {
            file = try configFile.map(FileConfiguration.load) ?? FileConfiguration()
        } catch {
            throw StartupFailure("\(error)")
        }
        let levelName = logLevel ?? file.logLevel ?? "info"
        guard let level = Logger.Level(rawValue: levelName) else {
            throw StartupFailure("log level must be one of trace, debug, info, notice, warning, error, critical (got \"\(levelName)\")")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardOutput(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        var metrics = PrometheusMetricsFactory(registry: registry)
        // The latencies that matter here are a fraction of a millisecond to a few (the
        // library's default buckets start at 5 ms).
        metrics.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(metrics)
        let logger = Logger(label: "mwid")
        logger.info("mwid \(MWIDVersion.string) starting", metadata: ["allocator": "\(Self.allocator())"])

        // Data folder, storage, token.
        let dataPath = data ?? file.data ?? "./mwid-data"
        let syncName = storageSync ?? file.storageSync ?? SQLiteStorage.CommitSync.full.rawValue
        guard let sync = SQLiteStorage.CommitSync(rawValue: syncName) else {
            throw StartupFailure("storage sync must be full or normal (got \"\(syncName)\")")
        }
        let dataURL = URL(fileURLWithPath: dataPath).standardizedFileURL
        let storage: SQLiteStorage
        let token: String
        do {
            try FileManager.default.createDirectory(at: dataURL, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            storage = try SQLiteStorage(path: dataURL.appendingPathComponent("mwid.sqlite").path, sync: sync)
            token = try AdminToken.loadOrCreate(in: dataURL)
        } catch {
            throw StartupFailure("cannot use the data folder \(dataURL.path): \(Self.explain(error))")
        }
        let schema = (try? await storage.appliedMigrations().last) ?? "?"
        logger.info("data folder \(dataURL.path)", metadata: ["database": "mwid.sqlite", "schema": "\(schema)",
                                                               "token": "admin.token", "sync": "\(sync.rawValue)"])
        if sync == .normal {
            logger.warning("commits are not synced to disk (storage sync normal): a power cut or kernel crash may lose the last answered writes")
        }

        // SIP.
        let tlsFile = file.tls
        let certificate = tlsCertificate ?? tlsFile?.certificate, key = tlsKey ?? tlsFile?.key, ca = tlsCA ?? tlsFile?.ca
        let tls = (certificate != nil || key != nil || ca != nil)
            ? SIPTLSConfiguration(certificateChainFile: certificate, privateKeyFile: key, trustRootsFile: ca,
                                  presentClientCertificate: tlsClientCertificate || (tlsFile?.clientCertificate ?? false),
                                  requireClientCertificate: tlsRequireClientCertificate || (tlsFile?.requireClientCertificate ?? false))
            : nil
        var sipConfiguration = SIPEndpointConfiguration(
            udp: !sipUDP.isEmpty ? sipUDP : file.sip?.udp ?? ["127.0.0.1:5060"],
            tcp: !sipTCP.isEmpty ? sipTCP : file.sip?.tcp ?? ["127.0.0.1:5060"],
            tls: !sipTLS.isEmpty ? sipTLS : file.sip?.tls ?? [],
            advertisedHost: advertisedHost ?? file.sip?.advertisedHost, tlsConfiguration: tls,
            dnsServer: sipDNSServer ?? file.sip?.dnsServer)
        if let t1 = sipT1 ?? file.sip?.t1 {
            guard (10...10_000).contains(t1) else { throw StartupFailure("SIP T1 must be 10 to 10000 ms (got \(t1))") }
            sipConfiguration.timers = SIPTimers(t1: .milliseconds(Int64(t1)))
        }
        let mwiSettings = try Self.mwiSettings(notifyInterval: mwiNotifyInterval ?? file.mwi?.notifyInterval,
                                               retryWindow: mwiRetryWindow ?? file.mwi?.retryWindow,
                                               healthInterval: mwiHealthInterval ?? file.mwi?.healthInterval,
                                               refreshInterval: mwiRefreshInterval ?? file.mwi?.refreshInterval,
                                               notifyWindow: mwiNotifyWindow ?? file.mwi?.notifyWindow)
        let subscriptionSettings = try subscriptionSettings(file, advertisedHost: sipConfiguration.advertisedHost)
        let (smsSettings, smsLimits) = try smsSettings(file)
        if let path = smsCarriers ?? file.sms?.carriers {
            do {
                let catalog = try SMSCatalogFile.load(path)
                try await storage.applySMSCatalog(routes: catalog.routes, carriers: catalog.carriers)
                logger.info("carrier catalog applied", metadata: ["file": "\(path)", "routes": "\(catalog.routes.count)",
                                                                  "carriers": "\(catalog.carriers.count)"])
            } catch {
                throw StartupFailure("carrier catalog: \(error)")
            }
        }
        // The router's handlers reach the subscription server, which sends through the
        // endpoint the router belongs to: the server is handed over once both exist.
        let notifier = Late<SubscriptionServer>()
        var router = SIPRequestRouter(allowEvents: [SubscriptionRules.package])
        router.onReply(.subscribe) { request in
            guard let server = notifier.value else { return SIPReply(request.message.makeResponse(statusCode: 503)) }
            return await server.handleSubscribe(request)
        }
        router.on(.publish) { request in
            guard let server = notifier.value else { return request.message.makeResponse(statusCode: 503) }
            return await server.handlePublish(request)
        }
        router.on(.register) { request in
            guard let server = notifier.value else { return request.message.makeResponse(statusCode: 503) }
            return await server.handleRegister(request)
        }
        // mwid subscribes to nothing: a NOTIFY is always outside any subscription (SPEC §2.8).
        router.on(.notify) { request in
            request.message.makeResponse(statusCode: 481, reasonPhrase: "Subscription Does Not Exist", toTag: SIPIdentifiers.tag())
        }
        let endpoint = SIPEndpoint(configuration: sipConfiguration, router: router, logger: Logger(label: "mwid.sip"))
        do {
            try await endpoint.start()
        } catch {
            throw StartupFailure("cannot start SIP: \(error)")
        }
        for (transport, address) in await endpoint.localAddresses() {
            logger.info("SIP listening", metadata: ["transport": "\(transport)", "address": "\(Self.show(address))"])
        }

        // HTTP.
        let httpListener = http ?? file.http ?? "127.0.0.1:8080"
        let httpAddress: SocketAddress
        do {
            httpAddress = try SIPEndpointConfiguration.socketAddress(httpListener)
        } catch {
            await endpoint.shutdown()
            throw StartupFailure("--http: \(error)")
        }
        let dispatcher = MWIDispatcher(storage: storage, transport: endpoint, settings: mwiSettings)
        let subscriptions = SubscriptionServer(storage: storage, transport: endpoint, settings: subscriptionSettings)
        await subscriptions.onChange { dispatcher.stateChanged(mailbox: $0) }
        await dispatcher.use(subscriptions)
        notifier.set(subscriptions)
        let health = mwiSettings.healthInterval.map { interval in
            GatewayHealth(storage: storage, transport: endpoint, interval: interval) { gateway in
                // A gateway back from the dead: every lamp behind it, at once (after live changes).
                dispatcher.stateChanged(mailboxes: (try? await storage.markForRefresh(.gateway(gateway))) ?? [], priority: .refresh)
            }
        }
        if let health { await dispatcher.use(health) }
        let refresher = mwiSettings.refreshInterval.map { interval in
            RefreshScheduler(storage: storage, interval: interval) { dispatcher.stateChanged(mailboxes: $0, priority: .refresh) }
        }
        let texts = SMSDispatcher(storage: storage, settings: smsSettings)
        // What another voicemail system publishes goes down the deposit's pipeline.
        await subscriptions.onPublished { change in
            if change.state != change.previousState { dispatcher.stateChanged(mailbox: change.mailbox) }
            if change.sms != nil { texts.wake() }
        }
        if let left = try? await storage.recoverSMS(at: Date()), left > 0 {
            logger.warning("texts were being sent when mwid stopped: marked unconfirmed, not sent again", metadata: ["count": "\(left)"])
        }
        await subscriptions.restore()
        await dispatcher.resume()
        // How the last run ended (from here on, a stop that is not clean is noticed).
        let run = RunMarker(folder: dataURL)
        let previousStop: RunMarker.PreviousStop
        do {
            previousStop = try run.begin()
        } catch {
            await endpoint.shutdown()
            throw StartupFailure("cannot use the data folder \(dataURL.path): \(Self.explain(error))")
        }
        if previousStop == .machineStop {
            // The last commits before the stop, and what their NOTIFYs told, may be lost:
            // every lamp is told its state again (paced, after live changes).
            let mailboxes = (try? await storage.markForRefresh(.all)) ?? []
            logger.warning("the machine stopped while mwid was running (power cut, kernel crash or reboot): every lamp is re-sent",
                           metadata: ["mailboxes": "\(mailboxes.count)"])
            dispatcher.stateChanged(mailboxes: mailboxes, priority: .refresh)
        } else if previousStop == .processCrash {
            logger.warning("mwid did not stop cleanly last time: pending deliveries resume")
        }
        let api = AdminAPI(storage: storage, token: token, prometheus: registry, version: MWIDVersion.string,
                           stateChanged: { dispatcher.stateChanged(mailbox: $0) },
                           refreshed: { dispatcher.stateChanged(mailboxes: $0, priority: .refresh) }, subscriptions: subscriptions,
                           sms: texts, smsLimits: smsLimits)
        let application = Application(
            router: api.makeRouter(),
            // Deposits are answered ahead of the router, on the connection's event loop.
            server: .http1(configuration: .init(additionalChannelHandlers: [api.depositFastPath(serverName: "mwid")])),
            configuration: .init(address: .hostname(httpAddress.ipAddress ?? "127.0.0.1", port: httpAddress.port ?? 8080),
                                 serverName: "mwid"),
            onServerRunning: { channel in
                let shown = channel.localAddress.map(Self.show) ?? httpListener
                Logger(label: "mwid").info("HTTP listening", metadata: ["address": "\(shown)", "api": "http://\(shown)/api/v1"])
                Logger(label: "mwid").info("mwid \(MWIDVersion.string) ready")
            },
            logger: Logger(label: "mwid.http"))

        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: HTTPService(application: application, listener: httpListener)),
                .init(service: SIPService(endpoint: endpoint, dispatcher: dispatcher, subscriptions: subscriptions, health: health,
                                          refresher: refresher)),
                .init(service: SMSService(dispatcher: texts)),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: Logger(label: "mwid.lifecycle")))
        do {
            try await group.run()
        } catch {
            await endpoint.shutdown()
            run.end()
            throw StartupFailure(Self.explain(error))
        }
        run.end()
        logger.info("stopped")
    }

    /// The notifier's settings: flags over the file over the defaults, each checked.
    func subscriptionSettings(_ file: FileConfiguration, advertisedHost: String?) throws -> SubscriptionSettings {
        var settings = SubscriptionSettings()
        let f = file.subscriptions
        settings.realm = sipRealm ?? file.sip?.realm ?? advertisedHost ?? "mwid"
        guard !settings.realm.isEmpty, !settings.realm.contains("\""), settings.realm.allSatisfy({ $0.isASCII && !$0.isNewline }) else {
            throw StartupFailure("the SIP realm must be non-empty ASCII without quotes (got \"\(settings.realm)\")")
        }
        for text in sipTrustedPeers.isEmpty ? file.sip?.trustedPeers ?? [] : sipTrustedPeers {
            guard let range = AddressRange(text) else {
                throw StartupFailure("trusted SIP peer \"\(text)\" is not an IP address or NETWORK/PREFIX (such as 192.0.2.0/24)")
            }
            settings.trustedPeers.append(range)
        }
        func whole(_ value: Int?, _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let value else { return nil }
            guard range.contains(value) else {
                throw StartupFailure("\(name) must be \(range.lowerBound) to \(range.upperBound) (got \(value))")
            }
            return value
        }
        if let v = try whole(subscriptionMinExpires ?? f?.minExpires, "the minimum subscription expiry", 1...86_400) { settings.minimumExpires = v }
        if let v = try whole(subscriptionMaxExpires ?? f?.maxExpires, "the maximum subscription expiry", 1...(30 * 86_400)) { settings.maximumExpires = v }
        guard settings.maximumExpires >= settings.minimumExpires else {
            throw StartupFailure("the maximum subscription expiry (\(settings.maximumExpires) s) is below the minimum (\(settings.minimumExpires) s)")
        }
        settings.defaultExpires = min(max(settings.defaultExpires, settings.minimumExpires), settings.maximumExpires)
        if let v = try whole(subscriptionsPerMailbox ?? f?.perMailbox, "subscriptions per mailbox", 1...10_000) { settings.maximumPerMailbox = v }
        if let v = try whole(subscriptionsTotal ?? f?.total, "the total of subscriptions", 1...10_000_000) { settings.maximumTotal = v }
        if let v = try whole(subscriptionNotifyWindow ?? f?.notifyWindow, "the subscription NOTIFY window", 1...1_000_000) { settings.notifyWindow = v }
        if let v = try whole(digestNonceLifetime ?? f?.nonceLifetime, "the digest nonce lifetime", 10...86_400) { settings.nonceLifetime = v }
        if let names = digestAlgorithms.map({ $0.split(separator: ",").map(String.init) }) ?? f?.digestAlgorithms {
            settings.digestAlgorithms = try names.map { name in
                let trimmed = name.trimmingCharacters(in: .whitespaces)
                guard let algorithm = DigestAlgorithm(name: trimmed), !algorithm.rawValue.hasSuffix("-sess") else {
                    throw StartupFailure("digest algorithm \"\(trimmed)\" is not MD5 or SHA-256")
                }
                return algorithm
            }
            guard !settings.digestAlgorithms.isEmpty else { throw StartupFailure("give at least one digest algorithm (MD5, SHA-256)") }
        }
        if let rate = sipRequestRate ?? f?.requestRate {
            guard rate > 0, rate <= 1_000_000 else { throw StartupFailure("the SIP request rate must be above 0 and at most 1000000 (got \(rate))") }
            settings.requestRate = rate
            settings.requestBurst = max(settings.requestBurst, rate)
        }
        if let burst = sipRequestBurst ?? f?.requestBurst {
            guard burst >= 1, burst <= 10_000_000 else { throw StartupFailure("the SIP request burst must be 1 to 10000000 (got \(burst))") }
            settings.requestBurst = burst
        }
        return settings
    }

    /// The SMS engine's settings: flags over the file over the defaults, each checked.
    func smsSettings(_ file: FileConfiguration) throws -> (SMSDispatchSettings, SMSSetupLimits) {
        var settings = SMSDispatchSettings()
        var limits = SMSSetupLimits()
        let f = file.sms
        func seconds(_ value: Double?, _ name: String, _ range: ClosedRange<Double>) throws -> Double? {
            guard let value else { return nil }
            guard range.contains(value) else {
                throw StartupFailure("\(name) must be \(range.lowerBound) to \(range.upperBound) seconds (got \(value))")
            }
            return value
        }
        func duration(_ value: Double) -> Duration { .milliseconds(Int64(value * 1000)) }
        if let v = try seconds(smsRetryBackoff ?? f?.retryBackoff, "the SMS retry back-off", 0.01...3600) { settings.retry.backoff = v }
        if let v = try seconds(smsRetryWindow ?? f?.retryWindow, "the SMS retry window", 0...(7 * 86_400)) { settings.retry.window = v }
        // Waits grow to a quarter of the window (15 minutes at most), so a text gets several tries.
        settings.retry.maximumBackoff = max(settings.retry.backoff, min(15 * 60, settings.retry.window / 4))
        if let v = try seconds(smsCodeLifetime ?? f?.codeLifetime, "the passcode lifetime", 1...86_400) { limits.codeLifetime = v }
        if let v = f?.maximumWrongCodes {
            guard (1...100).contains(v) else { throw StartupFailure("sms.maximumWrongCodes must be 1 to 100 (got \(v))") }
            limits.maximumWrongCodes = v
        }
        if let v = f?.passcodesPerHour {
            guard (1...100).contains(v) else { throw StartupFailure("sms.passcodesPerHour must be 1 to 100 (got \(v))") }
            limits.sendsPerHour = v
        }
        if let v = try seconds(smsResponseTimeout ?? f?.responseTimeout, "the SMPP response timeout", 0.05...300) { settings.smpp.responseTimeout = duration(v) }
        if let v = try seconds(smsThrottleDelay ?? f?.throttleDelay, "the SMPP throttle delay", 0.01...300) { settings.smpp.throttleDelay = duration(v) }
        if let v = try seconds(smsReconnectBackoff ?? f?.reconnectBackoff, "the SMPP reconnect back-off", 0.01...300) {
            settings.smpp.reconnectBackoff = duration(v)
            settings.smpp.maximumReconnectBackoff = max(duration(v), settings.smpp.maximumReconnectBackoff)
        }
        if let v = try seconds(f?.requestTimeout, "sms.requestTimeout", 0.1...300) { settings.requestTimeout = duration(v) }
        if let v = try seconds(smsSMTPIdleTimeout ?? f?.smtpIdleTimeout, "the SMTP idle timeout", 0...3600) {
            settings.smtpIdleTimeout = duration(v)
        }
        return (settings, limits)
    }

    static func mwiSettings(notifyInterval: Double?, retryWindow: Double?, healthInterval: Double?,
                            refreshInterval: Double?, notifyWindow: Int?) throws -> MWISettings {
        var settings = MWISettings()
        if let window = notifyWindow {
            guard (1...1_000_000).contains(window) else { throw StartupFailure("the MWI NOTIFY window must be 1 to 1000000 (got \(window))") }
            settings.concurrency = window
        }
        if let seconds = healthInterval {
            guard (0...86_400).contains(seconds) else { throw StartupFailure("the MWI health interval must be 0 to 86400 s (got \(seconds))") }
            settings.healthInterval = seconds == 0 ? nil : .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = refreshInterval {
            guard (0...(30 * 86_400)).contains(seconds) else { throw StartupFailure("the MWI refresh interval must be 0 to 2592000 s (got \(seconds))") }
            settings.refreshInterval = seconds == 0 ? nil : .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = notifyInterval {
            guard (0...3600).contains(seconds) else { throw StartupFailure("the MWI notify interval must be 0 to 3600 s (got \(seconds))") }
            settings.notifyInterval = .milliseconds(Int64(seconds * 1000))
        }
        if let seconds = retryWindow {
            guard (0...86_400).contains(seconds) else { throw StartupFailure("the MWI retry window must be 0 to 86400 s (got \(seconds))") }
            settings.retryWindow = .milliseconds(Int64(seconds * 1000))
            settings.retryBackoff = min(settings.retryBackoff, .milliseconds(Int64(max(seconds, 0.05) * 250)))
        }
        return settings
    }

    static func show(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        return ip.contains(":") ? "[\(ip)]:\(address.port ?? 0)" : "\(ip):\(address.port ?? 0)"
    }

    /// Errors as an administrator reads them.
    static func explain(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("Address already in use") || text.contains("EADDRINUSE") { return "\(text) (address already in use)" }
        if let failure = error as? StartupFailure { return failure.message }
        return text
    }
}

/// A reason mwid cannot run, printed as one line before exiting with status 1.
struct StartupFailure: Error, CustomStringConvertible {
    var message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// The REST API's HTTP server; a bind failure becomes a clear start-up error.
struct HTTPService: Service {
    let application: Application<RouterResponder<BasicRequestContext>>
    let listener: String

    func run() async throws {
        do {
            try await application.run()
        } catch {
            throw StartupFailure("cannot serve HTTP on \(listener): \(MWID.explain(error))")
        }
    }
}

/// Keeps the SIP endpoint (already listening) until graceful shutdown, then closes it.
struct SIPService: Service {
    let endpoint: SIPEndpoint
    let dispatcher: MWIDispatcher
    let subscriptions: SubscriptionServer
    let health: GatewayHealth?
    let refresher: RefreshScheduler?

    func run() async throws {
        let loops = [
            health.map { health in Task { await health.run() } },
            refresher.map { refresher in Task { await refresher.run() } },
            Task { await subscriptions.runPublicationExpiry() },
        ].compactMap { $0 }
        try? await gracefulShutdown()
        for loop in loops { loop.cancel() }
        Logger(label: "mwid").info("stopping")
        await dispatcher.stop()
        await subscriptions.stop()
        await endpoint.shutdown()
    }
}

/// Sends the SMS outbox until graceful shutdown.
struct SMSService: Service {
    let dispatcher: SMSDispatcher

    func run() async throws {
        let loop = Task { await dispatcher.run() }
        try? await gracefulShutdown()
        await dispatcher.stop()
        await loop.value
    }
}

/// A value handed over once, after the things that need it were made.
final class Late<Value: Sendable>: Sendable {
    private let box = Mutex<Value?>(nil)
    var value: Value? { box.withLock { $0 } }
    func set(_ value: Value) { box.withLock { $0 = value } }
}

extension SubscriptionServer: SubscriptionDirectory {}
extension SMSDispatcher: SMSGateway {}

enum MWIDVersion {
    static let string = "0.2.0"
}
