import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
public import UnifiedMessaging

/// SMTP replies as they arrive: complete replies (code and text lines) out of a byte
/// stream. Pure.
struct SMTPReplyReader {
    struct Reply: Sendable, Hashable {
        var code: Int
        var lines: [String]
        var text: String { "\(code) \(lines.joined(separator: " / "))" }
    }

    private var buffer: [UInt8] = []
    private var lines: [String] = []
    /// A reply longer than this is refused (a server cannot make mwid hold an endless one
    /// until the timeout; EHLO's, the longest expected, has a line per extension).
    static let maximumLines = 512

    /// The replies completed by `bytes`, or an error for a line that is not a reply.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws(SMTPFailure) -> [Reply] {
        buffer.append(contentsOf: bytes)
        guard buffer.count < 64 * 1024 else { throw SMTPFailure(.temporary, "the SMTP server sent a line longer than 64 KiB") }
        var replies: [Reply] = []
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            var line = Array(buffer[..<newline])
            buffer.removeSubrange(...newline)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            guard line.count >= 3, let code = Int(String(decoding: line.prefix(3), as: UTF8.self)), (200...599).contains(code) else {
                throw SMTPFailure(.temporary, "the SMTP server sent something that is not a reply: \(String(decoding: line.prefix(80), as: UTF8.self))")
            }
            let more = line.count > 3 && line[3] == UInt8(ascii: "-")
            guard lines.count < Self.maximumLines else {
                throw SMTPFailure(.temporary, "the SMTP server sent a reply of more than \(Self.maximumLines) lines")
            }
            lines.append(String(decoding: line.dropFirst(4), as: UTF8.self))
            if !more {
                replies.append(Reply(code: code, lines: lines))
                lines = []
            }
        }
        return replies
    }
}

struct SMTPFailure: Error {
    enum Kind { case temporary, permanent, unknown }
    let kind: Kind
    let message: String
    /// The reply that refused, nil when none came (the connection failed or timed out).
    let code: Int?
    init(_ kind: Kind, _ message: String, code: Int? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    var outcome: SMSSendOutcome.Failure {
        switch kind {
        case .temporary: .temporary(message)
        case .permanent: .permanent(message)
        case .unknown: .unknown(message)
        }
    }
}

/// The email an email-to-SMS gateway turns into a text: the text as the body (UTF-8,
/// base64, so that any character and any length travels intact). Pure.
enum SMTPMessage {
    static func build(from: String, to: String, text: String, date: Date, messageID: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let d = calendar.dateComponents([.weekday, .day, .month, .year, .hour, .minute, .second], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let stamp = String(format: "%@, %d %@ %04d %02d:%02d:%02d +0000", days[((d.weekday ?? 1) - 1) % 7], d.day ?? 1,
                           months[((d.month ?? 1) - 1) % 12], d.year ?? 1970, d.hour ?? 0, d.minute ?? 0, d.second ?? 0)
        let encoded = Data(text.utf8).base64EncodedString()
        var body: [String] = []
        var rest = Substring(encoded)
        while !rest.isEmpty {
            body.append(String(rest.prefix(76)))
            rest = rest.dropFirst(76)
        }
        return ["From: <\(from)>", "To: <\(to)>", "Date: \(stamp)", "Message-ID: <\(messageID)>", "MIME-Version: 1.0",
                "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", ] .joined(separator: "\r\n")
            + "\r\n" + body.joined(separator: "\r\n") + "\r\n"
    }
}

/// Sends a text to an operator's email-to-SMS gateway: `NUMBER@domain` over SMTP, with
/// STARTTLS when the server offers it (or always, or never, as the route says) and AUTH
/// PLAIN or LOGIN when the route has credentials — never in clear unless the route says
/// `startTLS: never`. 4xx replies are retried, 5xx are not; a connection lost after the
/// message was handed over is not sent again.
///
/// Connections are kept open between texts for `idleTimeout` (one greeting, STARTTLS and
/// AUTH for a burst of texts, as mail servers expect of a client), one text at a time on
/// each. A kept connection that turns out to be closed before the text was handed over
/// (the server dropped it while idle, or is closing: 421), or that the server will take no
/// more texts on (a 4xx answer to MAIL FROM), gives way to a new one; the text does not
/// fail for it.
public final class SMTPSMSSender: Sendable {
    public let route: SMSRoute
    private let options: SMTPConnection.Options
    private let idleTimeout: Duration
    /// Kept connections, each with the instant it was kept (its expiry checks that); none
    /// once shut down.
    private struct Idle {
        var kept: [(connection: SMTPConnection, since: ContinuousClock.Instant)] = []
        var shutDown = false
    }
    private let idle = Mutex(Idle())

    /// `idleTimeout`: how long a connection is kept open for the next text (zero: closed
    /// after each text).
    public init(route: SMSRoute, connectTimeout: Duration = .seconds(5), replyTimeout: Duration = .seconds(30),
                idleTimeout: Duration = .seconds(30)) throws {
        self.route = route
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let file = route.caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file)) }
        options = SMTPConnection.Options(route: route, tls: try NIOSSLContext(configuration: configuration),
                                         connectTimeout: connectTimeout, timeout: replyTimeout)
        self.idleTimeout = idleTimeout
    }

    /// Mails `text` to `number` (E.164) at `domain`.
    public func send(_ text: SMSText, to number: String, domain: String) async -> SMSSendOutcome {
        let address = number.filter(\.isNumber) + "@" + domain
        do {
            try await deliver(text.text, to: address)
            return SMSSendOutcome(accepted: text.parts.count)
        } catch let failure as SMTPFailure {
            return .failed(failure.outcome)
        } catch {
            return .failed(.temporary("\(error)"))
        }
    }

    /// Closes the kept connections, and those of the texts being sent once they are done
    /// (the route changed, or mwid stops).
    public func shutdown() {
        let kept = idle.withLock { idle in
            idle.shutDown = true
            defer { idle.kept.removeAll() }
            return idle.kept
        }
        for kept in kept { kept.connection.close() }
    }

    private func deliver(_ text: String, to address: String) async throws {
        let from = route.from ?? "mwid@localhost"
        let transaction = SMTPConnection.Transaction(
            from: from, to: address,
            message: SMTPMessage.build(from: from, to: address, text: text, date: Date(), messageID: "\(UUID().uuidString.lowercased())@mwid"))
        while let kept = take() {
            if case .lost(_, handedOver: false) = try conclude(kept, await kept.run(transaction)) { continue }
            return
        }
        let fresh = try await SMTPConnection.open(options)
        if case .lost(let failure, handedOver: false) = try conclude(fresh, await fresh.run(transaction)) { throw failure }
    }

    /// Keeps or closes `connection` after `result`; throws what the text's outcome is.
    /// Returns the result when the connection was lost before the text was handed over
    /// (the caller may try another connection).
    private func conclude(_ connection: SMTPConnection, _ result: SMTPConnection.Result) throws -> SMTPConnection.Result {
        switch result {
        case .sent:
            keep(connection)
            return result
        case .refused(let failure, let reusable):
            if reusable { keep(connection) } else { connection.close() }
            throw failure
        case .lost(let failure, let handedOver):
            connection.close()
            if handedOver { throw SMTPFailure(.unknown, failure.message) }
            return result
        }
    }

    private func take() -> SMTPConnection? {
        idle.withLock { $0.kept.popLast()?.connection }
    }

    private func keep(_ connection: SMTPConnection) {
        let since = ContinuousClock.now
        let kept = idleTimeout > .zero && idle.withLock { idle in
            guard !idle.shutDown else { return false }
            idle.kept.append((connection, since))
            return true
        }
        guard kept else { return connection.close() }
        let idleTimeout = self.idleTimeout
        Task {
            try? await Task.sleep(for: idleTimeout)
            let expired = self.idle.withLock { idle -> Bool in
                guard let index = idle.kept.firstIndex(where: { $0.connection === connection && $0.since == since }) else { return false }
                idle.kept.remove(at: index)
                return true
            }
            if expired { connection.close() }
        }
    }
}

/// One connection to an SMTP server, greeted (and secured, and authenticated) once, then
/// carrying transactions one at a time. Its conversation runs in a task of its own, where
/// the channel lives (inside `executeThenClose`); transactions reach it through `jobs`.
final class SMTPConnection: Sendable {
    struct Options: Sendable {
        var route: SMSRoute
        var tls: NIOSSLContext
        var connectTimeout: Duration
        /// For the greeting and set-up, and then for each transaction.
        var timeout: Duration
    }

    struct Transaction: Sendable {
        var from: String
        var to: String
        var message: String
    }

    enum Result: Sendable {
        case sent
        /// The server refused the text; `reusable`: it accepted a RSET after.
        case refused(SMTPFailure, reusable: Bool)
        /// The connection failed, or takes no more texts (421, closing; or a 4xx answer to
        /// MAIL FROM, as servers that limit the messages of a session say it); `handedOver`:
        /// after the message was sent, so the server may have taken it.
        case lost(SMTPFailure, handedOver: Bool)

        var keepsConnection: Bool {
            switch self {
            case .sent: true
            case .refused(_, let reusable): reusable
            case .lost: false
            }
        }
    }

    private struct Job: Sendable {
        var transaction: Transaction
        var done: @Sendable (Result) -> Void
    }

    private let jobs: AsyncStream<Job>.Continuation

    private init(jobs: AsyncStream<Job>.Continuation) {
        self.jobs = jobs
    }

    /// Runs `transaction` on this connection.
    func run(_ transaction: Transaction) async -> Result {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result, Never>) in
            let job = Job(transaction: transaction) { continuation.resume(returning: $0) }
            if case .terminated = jobs.yield(job) {
                job.done(.lost(SMTPFailure(.temporary, "the connection to the SMTP server was closed (no reply)"), handedOver: false))
            }
        }
    }

    /// Ends the conversation (QUIT) once the transaction in progress, if any, is done.
    func close() {
        jobs.finish()
    }

    /// Connects, greets, secures and authenticates as the route says.
    static func open(_ options: Options) async throws -> SMTPConnection {
        let host = options.route.host ?? "127.0.0.1", port = options.route.port ?? 25
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(options.connectTimeout))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
        } catch {
            throw SMTPFailure(.temporary, "cannot connect to the SMTP server \(host):\(port): \(error)")
        }
        let (stream, continuation) = AsyncStream<Job>.makeStream()
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            Task { await converse(channel, options: options, jobs: stream, finish: continuation, ready: ready) }
        }
        return SMTPConnection(jobs: continuation)
    }

    /// The connection's whole life: set-up (told to `ready`), then the transactions, then QUIT.
    private static func converse(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, options: Options, jobs: AsyncStream<Job>,
                                 finish: AsyncStream<Job>.Continuation, ready: CheckedContinuation<Void, any Error>) async {
        let waiting = Mutex<CheckedContinuation<Void, any Error>?>(ready)
        let timeout = options.timeout
        // Past the timeout the connection is closed, and the reply being awaited never comes.
        let deadline = { channel.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.channel.close(promise: nil) } }
        do {
            try await channel.executeThenClose { inbound, outbound in
                var session = SMTPSession(inbound: inbound.makeAsyncIterator(), outbound: outbound, timeout: timeout)
                let setUp = deadline()
                do {
                    try await session.setUp(options, channel: channel.channel)
                } catch {
                    setUp.cancel()
                    throw error
                }
                setUp.cancel()
                waiting.withLock { ready in defer { ready = nil }; return ready }?.resume()
                for await job in jobs {
                    let limit = deadline()
                    let result = await session.run(job.transaction)
                    limit.cancel()
                    job.done(result)
                    guard result.keepsConnection else { break }
                }
                try? await session.send("QUIT")
            }
        } catch {
            waiting.withLock { ready in defer { ready = nil }; return ready }?.resume(throwing: error)
        }
        // Whatever was handed to a connection that has ended is not sent.
        finish.finish()
        for await job in jobs {
            job.done(.lost(SMTPFailure(.temporary, "the connection to the SMTP server was closed (no reply)"), handedOver: false))
        }
    }
}

/// One conversation: commands out, replies in, each within the timeout.
struct SMTPSession {
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let timeout: Duration
    var reader = SMTPReplyReader()
    var queued: [SMTPReplyReader.Reply] = []

    init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
         timeout: Duration) {
        self.inbound = inbound
        self.outbound = outbound
        self.timeout = timeout
    }

    func send(_ line: String) async throws {
        try await outbound.write(ByteBuffer(string: line + "\r\n"))
    }

    mutating func reply() async throws -> SMTPReplyReader.Reply {
        while queued.isEmpty {
            let next: ByteBuffer?
            do {
                next = try await inbound.next()
            } catch {
                throw SMTPFailure(.temporary, "the connection to the SMTP server failed (no reply): \(error)")
            }
            guard let bytes = next else {
                throw SMTPFailure(.temporary, "the SMTP server closed the connection or did not answer within \(timeout) (no reply)")
            }
            queued += try reader.feed(bytes.readableBytesView)
        }
        return queued.removeFirst()
    }

    /// Sends `command` (when given) and wants `code`; `shown` replaces the command in
    /// errors (secrets and the message are never repeated).
    mutating func expect(_ code: Int, after command: String?, what: String, shown: String? = nil, also: [Int] = []) async throws {
        if let command { try await send(command) }
        let answer = try await reply()
        guard answer.code == code || also.contains(answer.code) else {
            let said = shown ?? command ?? "connecting"
            throw SMTPFailure(answer.code >= 500 ? .permanent : .temporary, "the SMTP server refused the \(what) (\(said)): \(answer.text)",
                              code: answer.code)
        }
    }

    /// The greeting, EHLO, STARTTLS and AUTH, as the route says.
    mutating func setUp(_ options: SMTPConnection.Options, channel: any Channel) async throws {
        let route = options.route
        let host = route.host ?? "127.0.0.1", port = route.port ?? 25
        let serverName = DirectoryValidation.isIPv4(host) || DirectoryValidation.isIPv6(host) ? nil : host
        try await expect(220, after: nil, what: "greeting")
        var extensions = try await hello()
        var secure = false
        if extensions.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) && route.startTLS != .never {
            try await expect(220, after: "STARTTLS", what: "STARTTLS")
            let tls = options.tls, pipeline = channel.pipeline
            try await channel.eventLoop.submit {
                try pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName), position: .first)
            }.get()
            secure = true
            extensions = try await hello()
        } else if route.startTLS == .required {
            throw SMTPFailure(.temporary, "the SMTP server \(host):\(port) does not offer STARTTLS, which the route requires")
        }
        guard let username = route.username else { return }
        guard secure || route.startTLS == .never else {
            throw SMTPFailure(.permanent, "the SMTP server \(host):\(port) offers no STARTTLS: the credentials are not sent in clear (set startTLS: never to allow it)")
        }
        let auth = extensions.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ") ?? []
        let secret = route.password ?? ""
        if auth.contains("PLAIN") || !auth.contains("LOGIN") {
            let token = Data("\0\(username)\0\(secret)".utf8).base64EncodedString()
            try await expect(235, after: "AUTH PLAIN \(token)", what: "authentication", shown: "AUTH PLAIN")
        } else {
            try await expect(334, after: "AUTH LOGIN", what: "authentication")
            try await expect(334, after: Data(username.utf8).base64EncodedString(), what: "authentication", shown: "(user)")
            try await expect(235, after: Data(secret.utf8).base64EncodedString(), what: "authentication", shown: "(password)")
        }
    }

    /// One text: MAIL, RCPT, DATA and the message. A refusal is followed by RSET, so that
    /// the connection can carry the next text.
    mutating func run(_ transaction: SMTPConnection.Transaction) async -> SMTPConnection.Result {
        var handedOver = false
        do {
            do {
                try await expect(250, after: "MAIL FROM:<\(transaction.from)>", what: "sender")
            } catch let failure as SMTPFailure where (400..<500).contains(failure.code ?? 0) {
                // Not now on this connection (a session's limit of messages, say); a new
                // connection may take it at once.
                return .lost(failure, handedOver: false)
            }
            try await expect(250, after: "RCPT TO:<\(transaction.to)>", what: "recipient", also: [251])
            try await expect(354, after: "DATA", what: "DATA")
            // Handed over: from here a lost answer may hide an accepted message.
            handedOver = true
            try await expect(250, after: transaction.message + ".", what: "message", shown: "(message)")
            return .sent
        } catch let failure as SMTPFailure where failure.code == 421 {
            // The server is closing the connection: it took nothing, whenever it said so.
            return .lost(failure, handedOver: false)
        } catch let failure as SMTPFailure where failure.code != nil {
            let reusable = (try? await expect(250, after: "RSET", what: "reset")) != nil
            return .refused(failure, reusable: reusable)
        } catch let failure as SMTPFailure {
            return .lost(failure, handedOver: handedOver)
        } catch {
            return .lost(SMTPFailure(.temporary, "the connection to the SMTP server failed (no reply): \(error)"), handedOver: handedOver)
        }
    }

    /// EHLO (HELO when refused); the extensions the server announced.
    mutating func hello() async throws -> [String] {
        try await send("EHLO mwid")
        let answer = try await reply()
        if answer.code == 250 { return Array(answer.lines.dropFirst()) }
        try await expect(250, after: "HELO mwid", what: "greeting")
        return []
    }
}
