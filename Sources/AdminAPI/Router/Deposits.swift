import Foundation
import Metrics
import NIOCore
import Storage
import UnifiedMessaging

/// A voice message deposit (`POST /api/v1/mailboxes/{identity}/messages`), from the
/// request's body to its answer: one piece of logic for the Hummingbird route and for the
/// fast path that answers deposits on the connection's event loop (`DepositFastPath`).
struct Deposits: Sendable {
    let storage: any Storage
    let clock: @Sendable () -> Date
    let makeID: @Sendable () -> String
    /// Told of every committed change of a mailbox's MWI state (the MWI engine listens).
    let stateChanged: @Sendable (String) -> Void
    let sms: (any SMSGateway)?
    private let counter = Counter(label: "mwid_voice_message_changes_total", dimensions: [("change", "deposit")])

    init(storage: any Storage, clock: @escaping @Sendable () -> Date, makeID: @escaping @Sendable () -> String,
         stateChanged: @escaping @Sendable (String) -> Void, sms: (any SMSGateway)?) {
        self.storage = storage
        self.clock = clock
        self.makeID = makeID
        self.stateChanged = stateChanged
        self.sms = sms
    }

    /// What a deposit answers: the stored message and where it lives.
    struct Deposited: Sendable {
        var message: VoiceMessage
        var location: String
    }

    static func decode(_ body: ByteBuffer) throws -> VoiceMessageDeposit {
        if let deposit = DepositJSON.deposit(body) { return deposit }
        return try APICoding.sharedDecoder.decode(VoiceMessageDeposit.self, from: Data(body.readableBytesView))
    }

    /// For the route: the same as the fast path's, awaited.
    func deposit(_ body: ByteBuffer, mailbox identity: String) async throws -> Deposited {
        try await withCheckedThrowingContinuation { continuation in
            deposit(body, mailbox: identity) { continuation.resume(with: $0) }
        }
    }

    /// For the fast path: `answer` is called on any thread once the deposit is durable or
    /// refused, with what to send back. The lamp is told before, as soon as
    /// the deposit is committed and visible (while its WAL is being synced).
    func deposit(_ body: ByteBuffer, mailbox identity: String,
                 answer: @escaping @Sendable (Result<Deposited, any Error>) -> Void) {
        let deposit: VoiceMessageDeposit
        do {
            deposit = try Self.decode(body)
        } catch {
            return answer(.failure(error))
        }
        storage.deposit(deposit, mailbox: identity, id: makeID(), at: clock(),
                        visible: { self.committed($0, mailbox: identity) },
                        completion: { result in answer(result.map { self.deposited($0, mailbox: identity) }) })
    }

    /// The deposit is committed: the lamp is told.
    private func committed(_ change: MailboxChange, mailbox identity: String) {
        if change.state != change.previousState { stateChanged(identity) }
    }

    /// The deposit is durable: the text is told (a text, unlike a lamp, cannot be taken
    /// back should a power cut lose the deposit), and it is counted, and answered.
    private func deposited(_ change: MailboxChange, mailbox identity: String) -> Deposited {
        if change.sms != nil { sms?.wake() }
        counter.increment()
        return Deposited(message: change.message,
                         location: "/api/v1/mailboxes/\(APIResponses.pathComponent(identity))/messages/\(change.message.id)")
    }
}
