public import Foundation

/// One try at telling a gateway a mailbox's state: what was sent, where, how, and what
/// came back (a status line, or the transport error).
public struct DeliveryAttempt: Codable, Sendable, Hashable {
    public var mailbox: String
    /// The state's version (increases with every committed change of the counts).
    public var version: Int64
    public var state: MessageWaitingState
    public var gateway: String
    /// `udp`, `tcp` or `tls`.
    public var transport: String
    public var at: Date
    /// `200 OK`, `480 Temporarily Unavailable`, `timeout`, `connection refused: …`.
    public var response: String
    public var delivered: Bool

    public init(mailbox: String, version: Int64, state: MessageWaitingState, gateway: String, transport: String,
                at: Date, response: String, delivered: Bool) {
        self.mailbox = mailbox
        self.version = version
        self.state = state
        self.gateway = gateway
        self.transport = transport
        self.at = at
        self.response = response
        self.delivered = delivered
    }
}

/// The last state a gateway acknowledged (2xx) for a mailbox.
public struct AcknowledgedState: Codable, Sendable, Hashable {
    public var version: Int64
    public var state: MessageWaitingState
    public var gateway: String
    public var at: Date

    public init(version: Int64, state: MessageWaitingState, gateway: String, at: Date) {
        self.version = version
        self.state = state
        self.gateway = gateway
        self.at = at
    }
}
