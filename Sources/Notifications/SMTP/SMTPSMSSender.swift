import Foundation
import NIOCore
import NIOPosix
import NIOSSL
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
    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
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
public final class SMTPSMSSender: Sendable {
    public let route: SMSRoute
    private let tls: NIOSSLContext
    private let timeout: Duration
    private let connectTimeout: Duration

    public init(route: SMSRoute, connectTimeout: Duration = .seconds(5), replyTimeout: Duration = .seconds(30)) throws {
        self.route = route
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let file = route.caFile { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(file)) }
        tls = try NIOSSLContext(configuration: configuration)
        timeout = replyTimeout
        self.connectTimeout = connectTimeout
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

    private func deliver(_ text: String, to address: String) async throws {
        let host = route.host ?? "127.0.0.1", port = route.port ?? 25
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(TimeAmount(connectTimeout))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
        } catch {
            throw SMTPFailure(.temporary, "cannot connect to the SMTP server \(host):\(port): \(error)")
        }
        let from = route.from ?? "mwid@localhost"
        let tls = self.tls, startTLS = route.startTLS, timeout = self.timeout
        let username = route.username, password = route.password
        let serverName = DirectoryValidation.isIPv4(host) || DirectoryValidation.isIPv6(host) ? nil : host
        // The whole conversation has `timeout`: past it the connection is closed, and the
        // reply being awaited never comes.
        let deadline = channel.channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { channel.channel.close(promise: nil) }
        defer { deadline.cancel() }
        try await channel.executeThenClose { inbound, outbound in
            var session = SMTPSession(inbound: inbound.makeAsyncIterator(), outbound: outbound, timeout: timeout)
            try await session.expect(220, after: nil, what: "greeting")
            var extensions = try await session.hello()
            var secure = false
            if extensions.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) && startTLS != .never {
                try await session.expect(220, after: "STARTTLS", what: "STARTTLS")
                let pipeline = channel.channel.pipeline
                try await channel.channel.eventLoop.submit {
                    try pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: serverName), position: .first)
                }.get()
                secure = true
                extensions = try await session.hello()
            } else if startTLS == .required {
                throw SMTPFailure(.temporary, "the SMTP server \(host):\(port) does not offer STARTTLS, which the route requires")
            }
            if let username {
                guard secure || startTLS == .never else {
                    throw SMTPFailure(.permanent, "the SMTP server \(host):\(port) offers no STARTTLS: the credentials are not sent in clear (set startTLS: never to allow it)")
                }
                let auth = extensions.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ") ?? []
                let secret = password ?? ""
                if auth.contains("PLAIN") || !auth.contains("LOGIN") {
                    let token = Data("\0\(username)\0\(secret)".utf8).base64EncodedString()
                    try await session.expect(235, after: "AUTH PLAIN \(token)", what: "authentication", shown: "AUTH PLAIN")
                } else {
                    try await session.expect(334, after: "AUTH LOGIN", what: "authentication")
                    try await session.expect(334, after: Data(username.utf8).base64EncodedString(), what: "authentication", shown: "(user)")
                    try await session.expect(235, after: Data(secret.utf8).base64EncodedString(), what: "authentication", shown: "(password)")
                }
            }
            try await session.expect(250, after: "MAIL FROM:<\(from)>", what: "sender")
            try await session.expect(250, after: "RCPT TO:<\(address)>", what: "recipient", also: [251])
            try await session.expect(354, after: "DATA", what: "DATA")
            let message = SMTPMessage.build(from: from, to: address, text: text, date: Date(),
                                            messageID: "\(UUID().uuidString.lowercased())@mwid")
            // Handed over: from here a lost answer may hide an accepted message.
            do {
                try await session.expect(250, after: message + ".", what: "message", shown: "(message)")
            } catch let failure as SMTPFailure where failure.kind == .temporary && failure.message.contains("no reply") {
                throw SMTPFailure(.unknown, failure.message)
            }
            try? await session.send("QUIT")
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
            throw SMTPFailure(answer.code >= 500 ? .permanent : .temporary, "the SMTP server refused the \(what) (\(said)): \(answer.text)")
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
