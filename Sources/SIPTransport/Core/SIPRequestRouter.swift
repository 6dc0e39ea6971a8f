public import NIOCore
public import SIP

/// A request that arrived, with where it came from. The top Via already carries
/// `received` and `rport` as RFC 3261 §18.2.1 and RFC 3581 ask, so a response built from
/// it goes back the right way.
public struct SIPIncomingRequest: Sendable {
    public var message: SIPMessage
    public var transport: SIPTransportKind
    public var source: SocketAddress

    public init(message: SIPMessage, transport: SIPTransportKind, source: SocketAddress) {
        self.message = message
        self.transport = transport
        self.source = source
    }
}

/// A handler's answer to a request: the response, and what to do once the transport has
/// sent it (a notifier sends its first NOTIFY only after the 200 OK of the SUBSCRIBE).
public struct SIPReply: Sendable {
    public var response: SIPMessage
    /// Runs on the endpoint's event loop right after `response` was written.
    public var afterSending: (@Sendable () -> Void)?

    public init(_ response: SIPMessage, afterSending: (@Sendable () -> Void)? = nil) {
        self.response = response
        self.afterSending = afterSending
    }
}

/// Dispatches requests by method. OPTIONS is answered `200 OK` with `Allow` and `Accept`
/// (and `Allow-Events` when event packages are served); a method nobody handles gets
/// `405 Method Not Allowed` with `Allow`.
public struct SIPRequestRouter: Sendable {
    public typealias Handler = @Sendable (SIPIncomingRequest) async -> SIPMessage
    public typealias ReplyHandler = @Sendable (SIPIncomingRequest) async -> SIPReply

    private var handlers: [SIPMethod: ReplyHandler] = [:]
    /// Media types listed in `Accept` of the OPTIONS answer.
    public var accept: [SIPMediaType]
    /// Event packages listed in `Allow-Events` of the OPTIONS answer.
    public var allowEvents: [String]

    public init(accept: [SIPMediaType] = [.simpleMessageSummary], allowEvents: [String] = []) {
        self.accept = accept
        self.allowEvents = allowEvents
    }

    public mutating func on(_ method: SIPMethod, _ handler: @escaping Handler) {
        handlers[method] = { request in SIPReply(await handler(request)) }
    }

    /// A handler that also says what to do after its response is sent.
    public mutating func onReply(_ method: SIPMethod, _ handler: @escaping ReplyHandler) {
        handlers[method] = handler
    }

    /// OPTIONS and every method with a handler, in a stable order.
    public var allowedMethods: [SIPMethod] {
        ([.options] + handlers.keys.filter { $0 != .options }.sorted { $0.rawValue < $1.rawValue })
    }

    public func handle(_ request: SIPIncomingRequest) async -> SIPReply {
        let method = request.message.method ?? .options
        if let handler = handlers[method] {
            return await handler(request)
        }
        let allow = allowedMethods.map(\.rawValue).joined(separator: ", ")
        if method == .options {
            var response = request.message.makeResponse(statusCode: 200, toTag: SIPIdentifiers.tag())
            response.headers.add(.allow, allow)
            response.headers.add(.accept, accept.map(\.description).joined(separator: ", "))
            if !allowEvents.isEmpty { response.headers.add(.allowEvents, allowEvents.joined(separator: ", ")) }
            return SIPReply(response)
        }
        var response = request.message.makeResponse(statusCode: 405, toTag: SIPIdentifiers.tag())
        response.headers.add(.allow, allow)
        return SIPReply(response)
    }
}
