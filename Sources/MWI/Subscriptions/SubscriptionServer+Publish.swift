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
    public func handlePublish(_ incoming: SIPIncomingRequest) async -> SIPMessage {
        let request = incoming.message
        if let refusal = limit(incoming) { return refusal.response(to: request) }
        let intent: PublishIntent
        switch PublicationRules.check(request, settings: settings) {
        case .failure(let refusal): return refusal.response(to: request)
        case .success(let checked): intent = checked
        }
        do throws(SIPRefusal) {
            try challengeUnlessCredentials(request, from: incoming.source)
            let (outcome, publisher) = try await publish(intent, request, from: incoming.source)
            if outcome.change.state != outcome.change.previousState || outcome.change.sms != nil { published(outcome.change) }
            logger.debug("published", metadata: ["mailbox": "\(outcome.change.mailbox)", "publisher": "\(publisher)",
                                                 "state": "\(outcome.change.state)", "expires": "\(intent.expires)"])
            var response = request.makeResponse(statusCode: 200, toTag: SIPIdentifiers.tag())
            if let etag = outcome.etag { response.headers.add(.sipETag, etag) }
            response.headers.add(.expires, "\(intent.expires)")
            return response
        } catch {
            return error.response(to: request)
        }
    }

    /// Stores the publication for the mailbox the request names. A trusted peer's names
    /// its mailbox by address, resolved in the same write (one storage round trip per
    /// PUBLISH); an address naming several mailboxes falls back to the credentials, as
    /// for anyone else, who is looked up first and authenticated as that mailbox.
    private func publish(_ intent: PublishIntent, _ request: SIPMessage,
                         from source: SocketAddress) async throws(SIPRefusal) -> (MWIPublished, publisher: String) {
        let address = source.ipAddress ?? "?"
        if settings.isTrusted(address) {
            let keys = SubscriptionRules.lookupKeys(intent.requestURI)
            do throws(SIPRefusal) {
                let publisher = "trusted \(address)"
                return (try await store(intent.publication, to: .sip(extension: keys.extension, resourceIdentifiers: keys.resourceIdentifiers),
                                        naming: intent.requestURI, publisher: publisher), publisher)
            } catch let refusal where refusal.statusCode == 485 && Self.credentials(request, realm: settings.realm) != nil {
                // Several mailboxes: the credentials say which (below).
            }
        }
        let target = try resolve(await lookup(intent.requestURI), for: request, from: source, naming: intent.requestURI).mailbox
        let publisher = try await authenticate(request, method: .publish, source: source, target: target)
        return (try await store(intent.publication, to: .identity(target.identity), naming: intent.requestURI, publisher: publisher), publisher)
    }

    private func store(_ publication: MWIPublication, to mailbox: MailboxAddress, naming uri: SIPURI,
                       publisher: String) async throws(SIPRefusal) -> MWIPublished {
        do {
            return try await storage.publish(publication, to: mailbox, publisher: publisher, at: clock())
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
