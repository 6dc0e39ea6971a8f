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

/// Dispatches requests by method. OPTIONS is answered `200 OK` with `Allow` and `Accept`;
/// a method nobody handles gets `405 Method Not Allowed` with `Allow`.
public struct SIPRequestRouter: Sendable {
    public typealias Handler = @Sendable (SIPIncomingRequest) async -> SIPMessage

    private var handlers: [SIPMethod: Handler] = [:]
    /// Media types listed in `Accept` of the OPTIONS answer.
    public var accept: [SIPMediaType]

    public init(accept: [SIPMediaType] = [.simpleMessageSummary]) {
        self.accept = accept
    }

    public mutating func on(_ method: SIPMethod, _ handler: @escaping Handler) {
        handlers[method] = handler
    }

    /// OPTIONS and every method with a handler, in a stable order.
    public var allowedMethods: [SIPMethod] {
        ([.options] + handlers.keys.filter { $0 != .options }.sorted { $0.rawValue < $1.rawValue })
    }

    public func handle(_ request: SIPIncomingRequest) async -> SIPMessage {
        let method = request.message.method ?? .options
        if let handler = handlers[method] {
            return await handler(request)
        }
        let allow = allowedMethods.map(\.rawValue).joined(separator: ", ")
        if method == .options {
            var response = request.message.makeResponse(statusCode: 200, toTag: SIPIdentifiers.tag())
            response.headers.add(.allow, allow)
            response.headers.add(.accept, accept.map(\.description).joined(separator: ", "))
            return response
        }
        var response = request.message.makeResponse(statusCode: 405, toTag: SIPIdentifiers.tag())
        response.headers.add(.allow, allow)
        return response
    }
}
