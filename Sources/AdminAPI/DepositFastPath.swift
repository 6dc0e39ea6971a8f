import Foundation
public import NIOCore
import HTTPTypes
import Logging
import Metrics
public import NIOHTTPTypes

/// Deposits answered on the connection's event loop, in Hummingbird's pipeline ahead of
/// its router (SPEC §2.1: a deposit lights the lamp "within a blink").
///
/// A request through Hummingbird crosses from the event loop to a task and back, and its
/// middleware and router cost about 0.35 ms of CPU: more than a deposit's whole latency
/// budget. Here, a deposit's body is decoded as it arrives, handed to storage's group
/// commit, and answered from its completion: one thread hop to the commit queue and one
/// back. The logic is the route's own (`Deposits`), the answers are the same.
///
/// Only what the route would accept without question comes here: `POST
/// /api/v1/mailboxes/{identity}/messages` with a valid bearer token, a `Content-Length`
/// of at most 1 MiB, and no `Expect`, `Transfer-Encoding` or `Connection: close`. Anything
/// else — and any request while one handed on is still being answered, so that answers
/// keep the order of the requests — goes on to Hummingbird untouched, which answers it
/// (and every error about it) as before. Requests that arrive while a deposit is being
/// committed wait, unread, until it is answered.
public final class DepositFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    private let deposits: Deposits
    private let token: String
    private let serverName: String?
    private let logger: Logger
    private let answered: Counter

    private enum State {
        case idle
        case collecting(mailbox: String, body: ByteBuffer)
        case committing
    }
    private var state = State.idle
    /// Requests handed on to Hummingbird whose answer has not ended yet.
    private var handedOn = 0
    /// What arrived while a deposit was being committed, in order: requests, and the
    /// client's end of input (handed on at once, it would let Hummingbird close the
    /// connection before the deposit is answered).
    private enum Arrival {
        case part(HTTPRequestPart)
        case event(Any)
    }
    private var held: [Arrival] = []
    private var readWanted = false
    private var date = HTTPDate()
    private var committing: Bool {
        if case .committing = state { true } else { false }
    }

    init(deposits: Deposits, token: String, serverName: String?, logger: Logger, answered: Counter) {
        self.deposits = deposits
        self.token = token
        self.serverName = serverName
        self.logger = logger
        self.answered = answered
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        take(unwrapInboundIn(data), context: context)
    }

    private func take(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch state {
        case .committing:
            held.append(.part(part))
        case .collecting(let mailbox, var body):
            switch part {
            case .body(var bytes):
                state = .idle  // (the buffer is uniquely referenced while it grows)
                body.writeBuffer(&bytes)
                state = .collecting(mailbox: mailbox, body: body)
            case .end:
                state = .committing
                commit(body, mailbox: mailbox, context: context)
            case .head:
                // The decoder never starts a request inside another; should it, the
                // connection cannot be trusted any more.
                context.close(promise: nil)
            }
        case .idle:
            if case .head(let head) = part {
                if handedOn == 0, let mailbox = eligible(head) {
                    // (A claimed length is not reserved up front: a client may claim 1 MiB and send nothing.)
                    let length = head.headerFields[.contentLength].flatMap { Int($0) } ?? 0
                    state = .collecting(mailbox: mailbox, body: context.channel.allocator.buffer(capacity: min(length, 4096)))
                    return
                }
                handedOn += 1
            }
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    /// The mailbox of a deposit this path answers, nil for anything to hand on.
    private func eligible(_ head: HTTPRequest) -> String? {
        guard head.method == .post, let path = head.path else { return nil }
        // By bytes: the route's prefix and suffix are ASCII, so the identity between them
        // starts and ends on a character's boundary.
        let bytes = path.utf8
        let route = bytes[..<(bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex)]
        let prefix = "/api/v1/mailboxes/".utf8, suffix = "/messages".utf8
        guard route.count > prefix.count + suffix.count, route.starts(with: prefix), route.suffix(suffix.count).elementsEqual(suffix) else {
            return nil
        }
        let segment = route.dropFirst(prefix.count).dropLast(suffix.count)
        guard !segment.contains(UInt8(ascii: "/")) else { return nil }
        // One Content-Length, one Authorization (several go on, as their joined values would).
        var length: Int?, lengths = 0, authorization: String?, authorizations = 0
        for field in head.headerFields {
            switch field.name {
            case .contentLength:
                lengths += 1
                length = Int(field.value)
            case .authorization:
                authorizations += 1
                authorization = field.value
            case .transferEncoding, .expect:
                return nil
            case .connection where field.value.lowercased() == "close":
                return nil
            default:
                continue
            }
        }
        guard lengths == 1, let length, (0...APIResponses.maximumBody).contains(length),
              authorizations == 1, let authorization, BearerToken.accepts(authorization, token: token)
        else { return nil }
        let identity = String(Substring(segment))
        return identity.utf8.contains(UInt8(ascii: "%")) ? identity.removingPercentEncoding ?? identity : identity
    }

    private func commit(_ body: ByteBuffer, mailbox: String, context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        deposits.deposit(body, mailbox: mailbox) { result in
            if loop.inEventLoop {
                bound.value.handler.answer(result, mailbox: mailbox, context: bound.value.context)
            } else {
                loop.execute { bound.value.handler.answer(result, mailbox: mailbox, context: bound.value.context) }
            }
        }
    }

    private func answer(_ result: Result<Deposits.Deposited, any Error>, mailbox: String, context: ChannelHandlerContext) {
        var status = HTTPResponse.Status.created
        var fields = HTTPFields()
        var body: ByteBuffer
        do {
            let deposited = try result.get()
            body = try DepositJSON.message(deposited.message, allocator: context.channel.allocator)
                ?? APIResponses.body(deposited.message)
            fields[.contentType] = "application/json"
            fields[.location] = deposited.location
        } catch {
            let refusal = APIError.answer(for: error, path: "/api/v1/mailboxes/\(mailbox)/messages", logger: logger)
            status = refusal.status
            do {
                (fields, body) = try refusal.encoded()
            } catch {
                body = ByteBuffer(string: "{\"error\":{\"code\":\"internal\",\"message\":\"the answer could not be encoded\",\"field\":null}}")
                fields = [.contentType: "application/json"]
                status = .internalServerError
            }
        }
        fields[.date] = date.now()
        if let serverName { fields[.server] = serverName }
        fields[.contentLength] = String(body.readableBytes)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        answered.increment()
        state = .idle
        // What waited is taken now, in order (it may start another deposit, and wait again).
        if !held.isEmpty {
            while !committing, !held.isEmpty {
                switch held.removeFirst() {
                case .part(let part): take(part, context: context)
                case .event(let event): context.fireUserInboundEventTriggered(event)
                }
            }
            // What was handed on is delivered to Hummingbird's stream at a read's end.
            context.fireChannelReadComplete()
        }
        if readWanted, !committing {
            readWanted = false
            context.read()
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if committing || !held.isEmpty {
            held.append(.event(event))
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { handedOn = max(0, handedOn - 1) }
        context.write(data, promise: promise)
    }

    /// No more reading while a deposit is being committed: a client that sends ahead
    /// waits in its socket, not in memory.
    public func read(context: ChannelHandlerContext) {
        if committing {
            readWanted = true
        } else {
            context.read()
        }
    }
}

/// The `Date` header's text (RFC 9110 IMF-fixdate), made once a second.
struct HTTPDate {
    private var second = 0
    private var text = ""
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func now() -> String {
        var t = time(nil)
        guard t != second || text.isEmpty else { return text }
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        text = "\(Self.days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(Self.months[Int(parts.tm_mon) % 12]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        second = t
        return text
    }
}

extension AdminAPI {
    /// The deposit fast path for one HTTP connection (install it with Hummingbird's
    /// `additionalChannelHandlers`).
    public func depositFastPath(serverName: String?) -> DepositFastPath {
        DepositFastPath(deposits: Deposits(storage: storage, clock: clock, makeID: makeID, stateChanged: stateChanged, sms: sms),
                        token: token, serverName: serverName, logger: Logger(label: "mwid.http"), answered: Self.fastDeposits)
    }

    static let fastDeposits = Counter(label: "mwid_http_fast_deposits_total")
}
