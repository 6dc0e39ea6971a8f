public import SIP
public import Storage
public import UnifiedMessaging

/// What a PUBLISH asks, once the checks that need only the request have passed.
public struct PublishIntent: Sendable, Equatable {
    /// The mailbox published for (RFC 3903 §4: the Request-URI names the resource).
    public var requestURI: SIPURI
    public var publication: MWIPublication
    /// Seconds granted (0 for a removal).
    public var expires: Int
}

/// The rules of RFC 3903 for `message-summary` publications that need nothing but the
/// request and the settings: pure, so that every refusal is tested without a network.
public enum PublicationRules {
    /// Checks a PUBLISH: the event package (489), its expiry (423 under the minimum,
    /// capped at the maximum), the body's type (415) and form (400), and which of the four
    /// operations it is — initial (a body, no `SIP-If-Match`), refresh (`SIP-If-Match`, no
    /// body), modify (both) or remove (`SIP-If-Match`, `Expires: 0`).
    public static func check(_ request: SIPMessage, settings: SubscriptionSettings) -> Result<PublishIntent, SIPRefusal> {
        let event: SIPEvent?
        do { event = try request.event() } catch { return .failure(SIPRefusal(400, "Malformed Event header")) }
        guard let event, event.isPackage(SubscriptionRules.package) else {
            let got = event.map { "event package \($0.package) is not served" } ?? "no Event header"
            return .failure(SIPRefusal(489, "Bad Event (\(got))", headers: [(.allowEvents, SubscriptionRules.package)]))
        }
        guard let uri = request.requestURI, request.callID != nil, (try? request.cseq()) != nil,
              (try? request.from()) != nil, (try? request.to()) != nil else {
            return .failure(SIPRefusal(400, "Malformed From, To or CSeq header"))
        }
        let expires: Int
        switch SubscriptionRules.grantedExpires(request, settings: settings) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let granted): expires = granted
        }
        let etag = request.headers.first(.sipIfMatch).map { String($0).trimmingCharacters(in: .whitespaces) }
        if let etag, etag.isEmpty || etag.count > 128 { return .failure(SIPRefusal(400, "Malformed SIP-If-Match header")) }

        var state: MessageWaitingState?
        if !request.body.isEmpty {
            let type: SIPMediaType?
            do { type = try request.contentType() } catch { return .failure(SIPRefusal(400, "Malformed Content-Type header")) }
            guard let type, type.matches(.simpleMessageSummary) else {
                return .failure(SIPRefusal(415, "Unsupported Media Type (only application/simple-message-summary)",
                                           headers: [(.accept, SIPMediaType.simpleMessageSummary.description)]))
            }
            let summary: MessageSummary
            do {
                summary = try MessageSummary(parsing: request.body)
            } catch {
                return .failure(SIPRefusal(400, "Bad message-summary body (\(error))"))
            }
            do throws(SIPRefusal) {
                state = try Self.state(summary)
            } catch {
                return .failure(error)
            }
        }
        let publication: MWIPublication
        switch (etag, state, expires) {
        case (let etag?, _, 0): publication = .remove(etag: etag)
        case (nil, _, 0): return .failure(SIPRefusal(400, "Expires 0 without SIP-If-Match (no publication to remove)"))
        case (nil, let state?, _): publication = .initial(state, lifetime: Double(expires))
        case (nil, nil, _): return .failure(SIPRefusal(400, "PUBLISH without SIP-If-Match needs a message-summary body"))
        case (let etag?, let state?, _): publication = .modify(etag: etag, state, lifetime: Double(expires))
        case (let etag?, nil, _): publication = .refresh(etag: etag, lifetime: Double(expires))
        }
        return .success(PublishIntent(requestURI: uri, publication: publication, expires: expires))
    }

    /// The counts a summary publishes: its voice-message line; without one, a lamp that
    /// is on counts one new message. Urgent counts are part of their class (as mwid's
    /// own), and refused when larger than it.
    public static func state(_ summary: MessageSummary) throws(SIPRefusal) -> MessageWaitingState {
        guard let voice = summary[.voice] else { return MessageWaitingState(new: summary.messagesWaiting ? 1 : 0) }
        let state = MessageWaitingState(new: Int(voice.new), old: Int(voice.old), urgentNew: Int(voice.urgentNew),
                                        urgentOld: Int(voice.urgentOld))
        do {
            try DirectoryValidation.check(state)
        } catch {
            throw SIPRefusal(400, "Bad Voice-Message counts (\(error))")
        }
        return state
    }
}
