public import Foundation
public import SIP
public import SIPTransport
import NIOCore
import Storage
import UnifiedMessaging

/// PUBLISH of `message-summary` (RFC 3903): another voicemail system tells mwid the counts
/// of an externally-fed mailbox. mwid is the event state compositor; what it is told moves
/// the lamp through the same pipeline as a deposit (gateways, subscribers, texts).
extension SubscriptionServer {
    /// Answers a PUBLISH: 200 with the publication's new `SIP-ETag` and `Expires`, or the
    /// refusal (412 for an entity tag mwid does not know, 403 for a mailbox that counts its
    /// own messages, 489, 423, 415, 400, 401/403 without the right credentials).
    ///
    /// A trusted peer's PUBLISH (a voicemail system feeding many mailboxes) is checked and
    /// stored without entering the actor: one storage round trip, no wait behind the
    /// subscribers' NOTIFYs. Everyone else is rate-limited and authenticated on the actor.
    public nonisolated func handlePublish(_ incoming: SIPIncomingRequest) async -> SIPMessage {
        let request = incoming.message
        let intent: PublishIntent
        switch PublicationRules.check(request, settings: settings) {
        case .failure(let refusal): return refusal.response(to: request)
        case .success(let checked): intent = checked
        }
        let address = incoming.source.ipAddress ?? "?"
        guard settings.isTrusted(address) else { return await handleUntrustedPublish(intent, incoming) }
        let keys = SubscriptionRules.lookupKeys(intent.requestURI)
        let publisher = "trusted \(address)"
        do throws(SIPRefusal) {
            let outcome = try await store(intent.publication, to: .sip(extension: keys.extension, resourceIdentifiers: keys.resourceIdentifiers),
                                          naming: intent.requestURI, publisher: publisher)
            return accepted(outcome, intent, request, publisher: publisher)
        } catch let refusal where refusal.statusCode == 485 && Self.credentials(request, realm: settings.realm) != nil {
            // Several mailboxes: the credentials say which, as for anyone else.
            return await handleUntrustedPublish(intent, incoming)
        } catch {
            return error.response(to: request)
        }
    }

    /// A PUBLISH to be authenticated: the flood guard, the challenge, the mailbox looked up
    /// and the credentials checked as that mailbox's, then stored.
    private func handleUntrustedPublish(_ intent: PublishIntent, _ incoming: SIPIncomingRequest) async -> SIPMessage {
        let request = incoming.message
        if let refusal = limit(incoming) { return refusal.response(to: request) }
        do throws(SIPRefusal) {
            let credentials = try challengeUnlessCredentials(request, from: incoming.source)
            let target = try resolve(await lookup(intent.requestURI), credentials: credentials, method: .publish,
                                     naming: intent.requestURI).mailbox
            let publisher = try await authenticate(credentials, method: .publish, source: incoming.source, target: target)
            let outcome = try await store(intent.publication, to: .identity(target.identity), naming: intent.requestURI,
                                          publisher: publisher)
            return accepted(outcome, intent, request, publisher: publisher)
        } catch {
            return error.response(to: request)
        }
    }

    /// The publication is durable (the pipeline was told of its change when it was
    /// committed, in `store`): the 200 carries the new entity tag.
    private nonisolated func accepted(_ outcome: MWIPublished, _ intent: PublishIntent, _ request: SIPMessage,
                                      publisher: String) -> SIPMessage {
        logger.debug("published", metadata: ["mailbox": "\(outcome.change.mailbox)", "publisher": "\(publisher)",
                                             "state": "\(outcome.change.state)", "expires": "\(intent.expires)"])
        var response = request.makeResponse(statusCode: 200, toTag: SIPIdentifiers.tag())
        if let etag = outcome.etag { response.headers.add(.sipETag, etag) }
        response.headers.add(.expires, "\(intent.expires)")
        return response
    }

    private nonisolated func store(_ publication: MWIPublication, to mailbox: MailboxAddress, naming uri: SIPURI,
                       publisher: String) async throws(SIPRefusal) -> MWIPublished {
        do {
            // Subscribers and gateways are told as soon as it is committed, while it is synced.
            return try await storage.publish(publication, to: mailbox, publisher: publisher, at: clock()) { outcome in
                if outcome.change.state != outcome.change.previousState || outcome.change.sms != nil { self.published(outcome.change) }
            }
        } catch let error as DirectoryError {
            switch (error.code, error.field) {
            case (.notFound, "address"): throw SIPRefusal(404, "Not Found (no mailbox for \(uri))")
            case (.conflict, "address"): throw SIPRefusal(485, "Ambiguous (\(uri) names several mailboxes)")
            case (.notFound, "etag"): throw SIPRefusal(412, "Conditional Request Failed (\(error.message))")
            case (.conflict, _): throw SIPRefusal(403, "Forbidden (\(error.message))")
            case (.notFound, _): throw SIPRefusal(404, "Not Found (\(error.message))")
            default: throw SIPRefusal(400, "Bad Request (\(error))")
            }
        } catch {
            logger.error("cannot store a publication", metadata: ["uri": "\(uri)", "error": "\(error)"])
            throw SIPRefusal(500, "Server Internal Error (cannot store the publication)")
        }
    }

    /// Forgets the publications that expired; their mailboxes go through the pipeline.
    /// Returns when the next one expires.
    public func expirePublications() async -> Date? {
        do {
            // A read first: most of the time nothing is due, and no write is needed.
            let next = try await storage.nextPublicationExpiry()
            guard let due = next, due <= clock() else { return next }
            for change in try await storage.expirePublications(at: clock()) where change.state != change.previousState {
                published(change)
            }
            return try await storage.nextPublicationExpiry()
        } catch {
            logger.error("cannot expire publications", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

extension SubscriptionServer {
    /// Expires publications until cancelled: when the next one is due, and at least every
    /// `checkEvery` (a publication made meanwhile may end sooner than the one waited for).
    public func runPublicationExpiry(checkEvery: Duration = .seconds(1)) async {
        while !Task.isCancelled {
            var wait = checkEvery
            if let next = await expirePublications() {
                let seconds = max(0.01, next.timeIntervalSince(clock()))
                wait = min(wait, .milliseconds(Int64(seconds * 1000) + 1))
            }
            guard (try? await Task.sleep(for: wait)) != nil else { return }
        }
    }
}
