public import Foundation

/// A phone's (or a PBX's) subscription to a mailbox's `message-summary` (RFC 6665,
/// RFC 3842): the dialog mwid keeps with the subscriber, as it is stored so that it
/// survives a restart. mwid is the notifier: "local" is mwid's side of the dialog.
public struct MWISubscription: Codable, Sendable, Hashable {
    /// mwid's tag in the dialog (the To-tag of its 200 OK, the From-tag of its NOTIFYs):
    /// 64 random bits in hex, unique, used as the subscription's id.
    public var id: String
    public var mailbox: String
    public var callID: String
    /// The subscriber's tag (the From-tag of its SUBSCRIBE).
    public var remoteTag: String
    /// What was subscribed to: the SUBSCRIBE's To, without tag (the From of NOTIFYs).
    public var localURI: String
    /// Who subscribed: the SUBSCRIBE's From, without tag (the To of NOTIFYs).
    public var remoteURI: String
    /// The subscriber's Contact URI: the Request-URI of NOTIFYs.
    public var remoteTarget: String
    /// The Record-Route URIs of the SUBSCRIBE, in order: the Route of NOTIFYs.
    public var routeSet: [String]
    /// `udp`, `tcp` or `tls`: the transport the SUBSCRIBE came over.
    public var transport: String
    /// `HOST:PORT` the SUBSCRIBE came from: NOTIFYs go back there (the same connection
    /// for TCP and TLS while it is open).
    public var source: String
    /// The `id` parameter of the SUBSCRIBE's Event header, echoed in NOTIFYs.
    public var eventID: String?
    /// The highest CSeq seen from the subscriber.
    public var remoteCSeq: UInt32
    /// mwid's NOTIFYs use CSeq numbers below this one; a restart continues from it.
    public var localCSeqReserved: UInt32
    public var expiresAt: Date
    public var createdAt: Date
    /// Who authenticated: `digest 1234` or `trusted 192.0.2.5`.
    public var subscriber: String

    public init(id: String, mailbox: String, callID: String, remoteTag: String, localURI: String, remoteURI: String,
                remoteTarget: String, routeSet: [String] = [], transport: String, source: String, eventID: String? = nil,
                remoteCSeq: UInt32, localCSeqReserved: UInt32, expiresAt: Date, createdAt: Date, subscriber: String) {
        self.id = id
        self.mailbox = mailbox
        self.callID = callID
        self.remoteTag = remoteTag
        self.localURI = localURI
        self.remoteURI = remoteURI
        self.remoteTarget = remoteTarget
        self.routeSet = routeSet
        self.transport = transport
        self.source = source
        self.eventID = eventID
        self.remoteCSeq = remoteCSeq
        self.localCSeqReserved = localCSeqReserved
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.subscriber = subscriber
    }
}

/// A live subscription as the API shows it: the stored dialog, and how its NOTIFYs went.
public struct MWISubscriptionStatus: Codable, Sendable, Hashable {
    public var id: String
    public var mailbox: String
    public var subscriber: String
    public var contact: String
    public var transport: String
    public var source: String
    public var createdAt: Date
    public var expiresAt: Date
    /// The counts of the last NOTIFY the subscriber acknowledged (`yes 1/0 (0/0)`).
    public var notifiedState: String?
    /// The last NOTIFY: when, and the response (or the transport error).
    public var lastNotifyAt: Date?
    public var lastResponse: String?

    public init(id: String, mailbox: String, subscriber: String, contact: String, transport: String, source: String,
                createdAt: Date, expiresAt: Date, notifiedState: String?, lastNotifyAt: Date?, lastResponse: String?) {
        self.id = id
        self.mailbox = mailbox
        self.subscriber = subscriber
        self.contact = contact
        self.transport = transport
        self.source = source
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.notifiedState = notifiedState
        self.lastNotifyAt = lastNotifyAt
        self.lastResponse = lastResponse
    }
}
