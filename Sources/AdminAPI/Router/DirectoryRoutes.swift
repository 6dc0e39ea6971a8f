import Foundation
import Hummingbird
import Metrics
import Storage
import UnifiedMessaging

/// `/api/v1/dialplans`, `gateways`, `policies`, `mailboxes` and the messages and MWI state
/// of a mailbox.
struct DirectoryRoutes<Context: RequestContext> {
    let storage: any Storage
    let clock: @Sendable () -> Date
    let makeID: @Sendable () -> String
    let stateChanged: @Sendable (String) -> Void
    let refreshed: (@Sendable ([String]) -> Void)?
    let subscriptions: (any SubscriptionDirectory)?
    let sms: (any SMSGateway)?

    func register(in table: RouteTable<Context>) {
        let storage = self.storage, stateChanged = self.stateChanged, refreshed = self.refreshed
        /// Makes the scope's states pending (durably) and hands them to the MWI engine.
        let refresh = { @Sendable (scope: RefreshScope) async throws -> Int in
            let mailboxes = try await storage.markForRefresh(scope)
            if let refreshed { refreshed(mailboxes) } else { mailboxes.forEach(stateChanged) }
            return mailboxes.count
        }
        collection(table, path: "dialplans", key: "name", kind: "dial plan", schema: "DialPlan",
                   list: { _ in try await storage.dialPlans() },
                   get: { try await storage.dialPlan(named: $0) },
                   create: { try await storage.create($0) },
                   update: { name, patch in try await storage.updateDialPlan(named: name) { $0 = try APICoding.merge(patch, into: $0) } },
                   remove: { try await storage.removeDialPlan(named: $0) })
        collection(table, path: "gateways", key: "name", kind: "IP gateway", schema: "IPGateway",
                   list: { _ in try await storage.gateways() },
                   get: { try await storage.gateway(named: $0) },
                   create: { gateway in
                       let created = try await storage.create(gateway)
                       if created.deliversMWI { _ = try await refresh(.gateway(created.name)) }
                       return created
                   },
                   update: { name, patch in
                       let before = try await storage.gateway(named: name)
                       let after = try await storage.updateGateway(named: name) { $0 = try APICoding.merge(patch, into: $0) }
                       // Switched on: lamps get the current state; switched off: one last "no".
                       if before.deliversMWI != after.deliversMWI || before.dialPlans != after.dialPlans {
                           _ = try await refresh(.gateway(name))
                       }
                       return after
                   },
                   remove: { try await storage.removeGateway(named: $0) })
        collection(table, path: "policies", key: "name", kind: "mailbox policy", schema: "MailboxPolicy",
                   list: { _ in try await storage.policies() },
                   get: { try await storage.policy(named: $0) },
                   create: { try await storage.create($0) },
                   update: { name, patch in
                       let before = try await storage.policy(named: name)
                       let after = try await storage.updatePolicy(named: name) { $0 = try APICoding.merge(patch, into: $0) }
                       if before.allowMessageWaitingIndicator != after.allowMessageWaitingIndicator {
                           _ = try await refresh(.policy(name))
                       }
                       return after
                   },
                   remove: { try await storage.removePolicy(named: $0) })
        collection(table, path: "mailboxes", key: "identity", kind: "mailbox", schema: "UMMailbox",
                   listQuery: [("after", "only mailboxes whose identity sorts after this one (paging)"),
                               ("limit", "at most this many (1–10000, default 1000)"),
                               ("dialPlan", "only this dial plan's mailboxes"), ("policy", "only this policy's mailboxes"),
                               ("extension", "only the mailbox with this extension")],
                   list: { request in
                       let limit = try APIResponses.queryInt("limit", request, default: 1000, range: 1...10_000)
                       let q = request.uri.queryParameters
                       return try await storage.mailboxes(MailboxQuery(
                           after: q.get("after"), limit: limit, dialPlan: q.get("dialPlan"), policy: q.get("policy"),
                           extension: q.get("extension")))
                   },
                   get: { try await storage.mailbox(identity: $0) },
                   create: { try await storage.create($0) },
                   update: { id, patch in
                       let before = try await storage.mailbox(identity: id)
                       let after = try await storage.updateMailbox(identity: id) { $0 = try APICoding.merge(patch, into: $0) }
                       // Moved, renumbered or under another policy: its lamp where it now is.
                       if (before.dialPlan, before.extension, before.sipResourceIdentifier, before.policy)
                           != (after.dialPlan, after.extension, after.sipResourceIdentifier, after.policy) {
                           _ = try await refresh(.mailbox(id))
                       }
                       return after
                   },
                   remove: { identity in
                       try await storage.removeMailbox(identity: identity)
                       stateChanged(identity)  // its subscribers are told it is gone
                   })
        collection(table, path: "sms/routes", key: "name", kind: "SMS route", schema: "SMSRoute",
                   list: { _ in try await storage.smsRoutes() },
                   get: { try await storage.smsRoute(named: $0) },
                   create: { try await storage.create($0) },
                   update: { name, patch in try await storage.updateSMSRoute(named: name) { $0 = try APICoding.merge(patch, into: $0) } },
                   remove: { try await storage.removeSMSRoute(named: $0) })
        messages(table)
        subscriptionRoutes(table)
        events(table)
        table.add(.post, "/api/v1/mwi/refresh", "Re-send the MWI state of one mailbox, a gateway's, a dial plan's, a policy's or all",
                  request: "RefreshRequest", responses: [(202, "RefreshResult"), (400, "Error"), (404, "Error")]) { request, context in
            let body = try await APIResponses.decode(RefreshRequest.self, from: request, context: context)
            let count = try await refresh(try body.scope())
            return try APIResponses.json(["mailboxes": count], status: .accepted)
        }
    }

    /// The five routes of a directory collection: list, create, get, patch, remove.
    private func collection<T: Codable & Sendable>(
        _ table: RouteTable<Context>, path: String, key: String, kind: String, schema: String,
        listQuery: [(name: String, description: String)] = [],
        list: @escaping @Sendable (Request) async throws -> [T],
        get: @escaping @Sendable (String) async throws -> T,
        create: @escaping @Sendable (T) async throws -> T,
        update: @escaping @Sendable (String, [String: JSONValue]) async throws -> T,
        remove: @escaping @Sendable (String) async throws -> Void
    ) {
        let base = "/api/v1/\(path)"
        let item = "\(base)/{\(key)}"
        table.add(.get, base, "List the \(kind)s", responses: [(200, "[\(schema)]")], query: listQuery) { request, _ in
            let page = try await list(request)
            var link: String?
            if let limit = request.uri.queryParameters.get("limit").flatMap(Int.init), page.count == limit,
               let last = page.last, let lastKey = Self.key(of: last) {
                var query = request.uri.queryParameters.filter { $0.key != "after" }.map { "\($0.key)=\($0.value)" }
                query.append("after=\(lastKey.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? lastKey)")
                link = "<\(base)?\(query.joined(separator: "&"))>; rel=\"next\""
            }
            return try APIResponses.json(page, link: link)
        }
        table.add(.post, base, "Create a \(kind)", request: schema, responses: [(201, schema), (400, "Error"), (404, "Error"), (409, "Error")]) { request, context in
            let value = try await APIResponses.decode(T.self, from: request, context: context)
            let created = try await create(value)
            let name = Self.key(of: created) ?? ""
            Counter(label: "mwid_directory_changes_total", dimensions: [("object", path), ("change", "create")]).increment()
            return try APIResponses.json(created, status: .created, location: "\(base)/\(APIResponses.pathComponent(name))")
        }
        table.add(.get, item, "Get one \(kind)", responses: [(200, schema), (404, "Error")]) { _, context in
            try APIResponses.json(try await get(try APIResponses.parameter(key, context)))
        }
        table.add(.patch, item, "Change the fields given of a \(kind)", request: "Patch", responses: [(200, schema), (400, "Error"), (404, "Error"), (409, "Error")]) { request, context in
            let patch = try await APIResponses.decode([String: JSONValue].self, from: request, context: context)
            let changed = try await update(try APIResponses.parameter(key, context), patch)
            Counter(label: "mwid_directory_changes_total", dimensions: [("object", path), ("change", "update")]).increment()
            return try APIResponses.json(changed)
        }
        table.add(.delete, item, "Remove a \(kind)", responses: [(204, nil), (404, "Error"), (409, "Error")]) { _, context in
            try await remove(try APIResponses.parameter(key, context))
            Counter(label: "mwid_directory_changes_total", dimensions: [("object", path), ("change", "remove")]).increment()
            return APIResponses.noContent()
        }
    }

    private static func key(of value: some Sendable) -> String? {
        switch value {
        case let v as DialPlan: v.name
        case let v as IPGateway: v.name
        case let v as MailboxPolicy: v.name
        case let v as UMMailbox: v.identity
        case let v as SMSRoute: v.name
        default: nil
        }
    }

    private func messages(_ table: RouteTable<Context>) {
        let storage = self.storage, clock = self.clock, stateChanged = self.stateChanged, sms = self.sms
        let deposits = Deposits(storage: storage, clock: clock, makeID: makeID, stateChanged: stateChanged, sms: sms)
        let base = "/api/v1/mailboxes/{identity}/messages"
        let committed = { @Sendable (identity: String, change: MailboxChange) in
            if change.state != change.previousState { stateChanged(identity) }
        }
        // Made once, not per request: a metric's creation is a lookup in the registry.
        let counters = Dictionary(uniqueKeysWithValues: ["update", "delete"].map {
            ($0, Counter(label: "mwid_voice_message_changes_total", dimensions: [("change", $0)]))
        })
        let changes = { @Sendable (change: String) in counters[change] ?? Counter(label: "mwid_voice_message_changes_total") }
        table.add(.get, base, "List a mailbox's voice messages, newest first", responses: [(200, "[VoiceMessage]"), (404, "Error")]) { _, context in
            try APIResponses.json(try await storage.messages(mailbox: try APIResponses.parameter("identity", context)))
        }
        table.add(.post, base, "Deposit a voice message (moves the lamp)", request: "VoiceMessageDeposit",
                  responses: [(201, "VoiceMessage"), (400, "Error"), (404, "Error"), (413, "Error")]) { request, context in
            let identity = try APIResponses.parameter("identity", context)
            var request = request
            let deposited = try await deposits.deposit(try await request.collectBody(upTo: APIResponses.maximumBody), mailbox: identity)
            return try APIResponses.json(deposited.message, status: .created, location: deposited.location)
        }
        let item = "\(base)/{id}"
        table.add(.get, item, "Get one voice message", responses: [(200, "VoiceMessage"), (404, "Error")]) { _, context in
            try APIResponses.json(try await storage.message(id: try APIResponses.parameter("id", context),
                                                            mailbox: try APIResponses.parameter("identity", context)))
        }
        table.add(.patch, item, "Mark a voice message read or unread, urgent or not", request: "VoiceMessageChange",
                  responses: [(200, "VoiceMessage"), (400, "Error"), (404, "Error")]) { request, context in
            let change = try await APIResponses.decode(VoiceMessageChange.self, from: request, context: context)
            let identity = try APIResponses.parameter("identity", context)
            // The lamp is told as soon as the change is committed, the caller once it is durable.
            let result = try await storage.changeMessage(id: try APIResponses.parameter("id", context), mailbox: identity, change) {
                committed(identity, $0)
            }
            changes("update").increment()
            return try APIResponses.json(result.message)
        }
        table.add(.delete, item, "Delete a voice message", responses: [(204, nil), (404, "Error")]) { _, context in
            let identity = try APIResponses.parameter("identity", context)
            _ = try await storage.removeMessage(id: try APIResponses.parameter("id", context), mailbox: identity) {
                committed(identity, $0)
            }
            changes("delete").increment()
            return APIResponses.noContent()
        }
        let status = { @Sendable (identity: String) async throws -> MWIStatus in
            let delivery = try await storage.deliveryContext(mailbox: identity)
            let attempts = try await storage.attempts(mailbox: identity, limit: 10)
            let subscribed = await subscriptions?.count(mailbox: identity) ?? 0
            let publications = delivery.mailbox.mwiSource == .external ? try await storage.publications(mailbox: identity, at: clock()) : []
            return MWIStatus(delivery, attempts: attempts, subscriptions: subscribed, publications: publications)
        }
        table.add(.get, "/api/v1/mailboxes/{identity}/mwi", "The mailbox's MWI state now, and whether it is delivered",
                  responses: [(200, "MWIStatus"), (404, "Error")]) { _, context in
            try APIResponses.json(try await status(try APIResponses.parameter("identity", context)))
        }
        table.add(.put, "/api/v1/mailboxes/{identity}/mwi",
                  "Set the counts of a mailbox fed by another voicemail system (mwiSource External); they drive lamps, subscribers and texts",
                  request: "MWICounts", responses: [(200, "MWIStatus"), (400, "Error"), (404, "Error"), (409, "Error")]) { request, context in
            let identity = try APIResponses.parameter("identity", context)
            let counts = try await APIResponses.decode(MWICounts.self, from: request, context: context)
            // The lamp is told as soon as the counts are committed; the text and the caller
            // once they are durable.
            let published = try await storage.publish(.put(counts.state), mailbox: identity, publisher: "api", at: clock()) { published in
                if published.change.state != published.change.previousState { stateChanged(identity) }
            }
            if published.change.sms != nil { sms?.wake() }
            return try APIResponses.json(try await status(identity))
        }
    }

    /// `mailboxes/{identity}/subscriptions`: the phones subscribed to a mailbox (SPEC §2.7).
    private func subscriptionRoutes(_ table: RouteTable<Context>) {
        let storage = self.storage, subscriptions = self.subscriptions
        let base = "/api/v1/mailboxes/{identity}/subscriptions"
        table.add(.get, base, "The live message-summary subscriptions of a mailbox",
                  responses: [(200, "[Subscription]"), (404, "Error")]) { _, context in
            let identity = try APIResponses.parameter("identity", context)
            _ = try await storage.mailbox(identity: identity)
            return try APIResponses.json(await subscriptions?.subscriptions(mailbox: identity) ?? [])
        }
        table.add(.delete, "\(base)/{id}", "End a subscription (the subscriber gets a final NOTIFY)",
                  responses: [(204, nil), (404, "Error")]) { _, context in
            let identity = try APIResponses.parameter("identity", context)
            let id = try APIResponses.parameter("id", context)
            _ = try await storage.mailbox(identity: identity)
            guard await subscriptions?.end(id: id, mailbox: identity) == true else {
                throw DirectoryError.notFound("subscription", id)
            }
            return APIResponses.noContent()
        }
    }

    private func events(_ table: RouteTable<Context>) {
        let storage = self.storage
        table.add(.get, "/api/v1/events", "The event log: newest first, or oldest first after an id",
                  responses: [(200, "[Event]")],
                  query: [("after", "only events after this id, oldest first"), ("limit", "at most this many (1–1000, default 100)"),
                          ("subject", "only events about this object (a name or identity)")]) { request, _ in
            let limit = try APIResponses.queryInt("limit", request, default: 100, range: 1...1000)
            var after: Int64?
            if let text = request.uri.queryParameters.get("after") {
                guard let value = Int64(text), value >= 0 else { throw APIError.badRequest("must be an event id (got \"\(text)\")", field: "after") }
                after = value
            }
            return try APIResponses.json(try await storage.events(EventQuery(after: after, limit: limit,
                                                                             subject: request.uri.queryParameters.get("subject"))))
        }
    }
}

/// `POST /mwi/refresh`: exactly one of the fields.
struct RefreshRequest: Decodable {
    var mailbox: String?
    var gateway: String?
    var dialPlan: String?
    var policy: String?
    var all: Bool?

    enum CodingKeys: String, CodingKey, CaseIterable { case mailbox, gateway, dialPlan, policy, all }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        mailbox = try c.decodeIfPresent(String.self, forKey: .mailbox)
        gateway = try c.decodeIfPresent(String.self, forKey: .gateway)
        dialPlan = try c.decodeIfPresent(String.self, forKey: .dialPlan)
        policy = try c.decodeIfPresent(String.self, forKey: .policy)
        all = try c.decodeIfPresent(Bool.self, forKey: .all)
    }

    func scope() throws -> RefreshScope {
        var scopes: [RefreshScope] = []
        if let mailbox { scopes.append(.mailbox(mailbox)) }
        if let gateway { scopes.append(.gateway(gateway)) }
        if let dialPlan { scopes.append(.dialPlan(dialPlan)) }
        if let policy { scopes.append(.policy(policy)) }
        if all == true { scopes.append(.all) }
        guard scopes.count == 1, let scope = scopes.first else {
            throw APIError.badRequest("give exactly one of mailbox, gateway, dialPlan, policy or all: true")
        }
        return scope
    }
}

/// `GET mailboxes/{id}/mwi`: the counts, whether they are delivered and why; the
/// delivery fields are filled by the MWI engine.
/// `PUT mailboxes/{id}/mwi`: the counts another voicemail system has for the mailbox.
struct MWICounts: Decodable, Sendable {
    var state: MessageWaitingState

    enum CodingKeys: String, CodingKey, CaseIterable { case new, old, urgentNew, urgentOld }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        for key in [CodingKeys.new, .old] where !c.contains(key) {
            throw DirectoryError.invalid(key.rawValue, "is required")
        }
        state = MessageWaitingState(new: try c.decodeInteger(.new) ?? 0, old: try c.decodeInteger(.old) ?? 0,
                                    urgentNew: try c.decodeInteger(.urgentNew) ?? 0, urgentOld: try c.decodeInteger(.urgentOld) ?? 0)
    }
}

struct MWIStatus: Codable, Sendable {
    var new, old, urgentNew, urgentOld: Int
    var messagesWaiting: Bool
    var enabled: Bool
    var reason: String
    var gateways: [String]
    var acknowledged: Bool
    var acknowledgedState: Acknowledged?
    var lastAttempts: [Attempt]
    /// Live subscriptions to the mailbox (phones kept current by in-dialog NOTIFYs).
    var subscriptions: Int
    /// Where the counts come from: its messages, or another system's publications.
    var mwiSource: MWISource
    var publications: [MWIPublicationRecord]

    struct Acknowledged: Codable, Sendable {
        var new, old, urgentNew, urgentOld: Int
        var messagesWaiting: Bool
        var gateway: String
        var at: Date
    }

    struct Attempt: Codable, Sendable {
        var gateway: String
        var transport: String
        var at: Date
        var response: String
        var delivered: Bool
        var state: String
    }

    init(_ delivery: DeliveryContext, attempts: [DeliveryAttempt], subscriptions: Int, publications: [MWIPublicationRecord] = []) {
        self.subscriptions = subscriptions
        mwiSource = delivery.mailbox.mwiSource
        self.publications = publications
        let decision = delivery.decision
        new = delivery.state.new
        old = delivery.state.old
        urgentNew = delivery.state.urgentNew
        urgentOld = delivery.state.urgentOld
        messagesWaiting = delivery.state.messagesWaiting
        enabled = decision.enabled
        reason = decision.reason
        gateways = decision.gateways.map(\.name)
        acknowledged = !delivery.isPending
        acknowledgedState = delivery.acknowledged.map {
            Acknowledged(new: $0.state.new, old: $0.state.old, urgentNew: $0.state.urgentNew, urgentOld: $0.state.urgentOld,
                         messagesWaiting: $0.state.messagesWaiting, gateway: $0.gateway, at: $0.at)
        }
        lastAttempts = attempts.map {
            Attempt(gateway: $0.gateway, transport: $0.transport, at: $0.at, response: $0.response, delivered: $0.delivered,
                    state: $0.state.description)
        }
    }

    func encode(to encoder: any Encoder) throws {
        enum K: String, CodingKey {
            case new, old, urgentNew, urgentOld, messagesWaiting, enabled, reason, gateways, acknowledged, acknowledgedState, lastAttempts
            case subscriptions, mwiSource, publications
        }
        var c = encoder.container(keyedBy: K.self)
        try c.encode(new, forKey: .new)
        try c.encode(old, forKey: .old)
        try c.encode(urgentNew, forKey: .urgentNew)
        try c.encode(urgentOld, forKey: .urgentOld)
        try c.encode(messagesWaiting, forKey: .messagesWaiting)
        try c.encode(enabled, forKey: .enabled)
        try c.encode(reason, forKey: .reason)
        try c.encode(gateways, forKey: .gateways)
        try c.encode(acknowledged, forKey: .acknowledged)
        try c.encode(acknowledgedState, forKey: .acknowledgedState)
        try c.encode(lastAttempts, forKey: .lastAttempts)
        try c.encode(subscriptions, forKey: .subscriptions)
        try c.encode(mwiSource, forKey: .mwiSource)
        if mwiSource == .external { try c.encode(publications, forKey: .publications) }
    }
}
