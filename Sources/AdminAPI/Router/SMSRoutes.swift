import Foundation
import Hummingbird
import Metrics
import Storage
public import UnifiedMessaging

/// What the API uses of the SMS engine: passcodes sent at once, and a nudge when a text
/// was queued.
public protocol SMSGateway: Sendable {
    func sendNow(_ text: String, to number: String, carrier: SMSCarrier) async -> SMSSendOutcome
    func wake()
}

/// `sms/carriers`, a mailbox's `sms` (state, set-up, verification, history), its missed
/// calls and `calls/missed` (SPEC §3, §5). `sms/routes` is a directory collection.
struct SMSRoutes<Context: RequestContext> {
    let storage: any Storage
    let clock: @Sendable () -> Date
    let makeID: @Sendable () -> String
    let sms: (any SMSGateway)?
    let limits: SMSSetupLimits

    func register(in table: RouteTable<Context>) {
        carriers(table)
        mailboxSMS(table)
        missedCalls(table)
    }

    private func carriers(_ table: RouteTable<Context>) {
        let storage = self.storage
        let base = "/api/v1/sms/carriers"
        let item = "\(base)/{locale}/{name}"
        table.add(.get, base, "The carrier catalog: mobile operators by locale and the route of each", responses: [(200, "[SMSCarrier]")],
                  query: [("locale", "only this locale's carriers (fr-FR, en-US…)")]) { request, _ in
            try APIResponses.json(try await storage.smsCarriers(locale: request.uri.queryParameters.get("locale")))
        }
        table.add(.post, base, "Add a carrier to the catalog", request: "SMSCarrier",
                  responses: [(201, "SMSCarrier"), (400, "Error"), (404, "Error"), (409, "Error")]) { request, context in
            let carrier = try await storage.create(try await APIResponses.decode(SMSCarrier.self, from: request, context: context))
            return try APIResponses.json(carrier, status: .created,
                                         location: "\(base)/\(APIResponses.pathComponent(carrier.locale))/\(APIResponses.pathComponent(carrier.name))")
        }
        table.add(.get, item, "Get one carrier", responses: [(200, "SMSCarrier"), (404, "Error")]) { _, context in
            try APIResponses.json(try await storage.smsCarrier(locale: try APIResponses.parameter("locale", context),
                                                               name: try APIResponses.parameter("name", context)))
        }
        table.add(.patch, item, "Change a carrier's route or email domain", request: "Patch",
                  responses: [(200, "SMSCarrier"), (400, "Error"), (404, "Error")]) { request, context in
            let patch = try await APIResponses.decode([String: JSONValue].self, from: request, context: context)
            return try APIResponses.json(try await storage.updateSMSCarrier(
                locale: try APIResponses.parameter("locale", context), name: try APIResponses.parameter("name", context)) {
                    $0 = try APICoding.merge(patch, into: $0)
                })
        }
        table.add(.delete, item, "Remove a carrier (refused while a mailbox uses it)",
                  responses: [(204, nil), (404, "Error"), (409, "Error")]) { _, context in
            try await storage.removeSMSCarrier(locale: try APIResponses.parameter("locale", context),
                                               name: try APIResponses.parameter("name", context))
            return APIResponses.noContent()
        }
    }

    /// The mailbox's settings as the user and the administrator see them.
    private static func status(_ storage: any Storage, _ identity: String, _ settings: SMSSettings, limits: SMSSetupLimits,
                               now: Date) async throws -> SMSStatusView {
        let mailbox = try await storage.mailbox(identity: identity)
        let policy = try await storage.policy(named: mailbox.policy)
        return SMSStatusView(settings: settings, mailbox: mailbox, policy: policy, limits: limits, now: now)
    }

    private func mailboxSMS(_ table: RouteTable<Context>) {
        let storage = self.storage, clock = self.clock, sms = self.sms, limits = self.limits
        let base = "/api/v1/mailboxes/{identity}/sms"
        let setups = Dictionary(uniqueKeysWithValues: ["setup", "resend", "verify", "disable"].map {
            ($0, Counter(label: "mwid_sms_setup_steps_total", dimensions: [("step", $0)]))
        })
        let counted = { @Sendable (step: String) in setups[step]?.increment() }
        table.add(.get, base, "The mailbox's text messaging: state, the number masked, set-up in progress, quiet hours",
                  responses: [(200, "SMSStatus"), (404, "Error")]) { _, context in
            let identity = try APIResponses.parameter("identity", context)
            let settings = try await storage.smsSettings(mailbox: identity)
            return try APIResponses.json(try await Self.status(storage, identity, settings, limits: limits, now: clock()))
        }
        table.add(.patch, base, "Change the quiet hours or the time zone", request: "SMSPreferences",
                  responses: [(200, "SMSStatus"), (400, "Error"), (404, "Error")]) { request, context in
            let identity = try APIResponses.parameter("identity", context)
            let change = try await APIResponses.decode(SMSPreferences.self, from: request, context: context)
            let (settings, _) = try await storage.updateSMSSettings(mailbox: identity) { settings in
                var next = settings
                if let quiet = change.quietHours { next.quietHours = quiet.value }
                if let zone = change.timeZone { next.timeZone = zone.value }
                try DirectoryValidation.check(next.quietHours, timeZone: next.timeZone)
                settings = next
            }
            return try APIResponses.json(try await Self.status(storage, identity, settings, limits: limits, now: clock()))
        }
        table.add(.delete, base, "Turn text messaging off: the number and any set-up are forgotten",
                  responses: [(204, nil), (404, "Error")]) { _, context in
            let identity = try APIResponses.parameter("identity", context)
            // The passcodes sent stay counted: turning off and on again is no way round the limit.
            _ = try await storage.updateSMSSettings(mailbox: identity) { settings in settings = SMSSettings(sends: settings.sends) }
            try await storage.log(.info, kind: "sms.disabled", subject: identity, message: "text messaging turned off")
            counted("disable")
            return APIResponses.noContent()
        }
        table.add(.post, "\(base)/setup", "Start the set-up: the number is checked and a six-digit passcode is texted to it",
                  request: "SMSSetupRequest",
                  responses: [(202, "SMSStatus"), (400, "Error"), (404, "Error"), (429, "Error"), (502, "Error"), (503, "Error")]) { request, context in
            let identity = try APIResponses.parameter("identity", context)
            let body = try await APIResponses.decode(SMSSetupRequest.self, from: request, context: context)
            _ = try await storage.mailbox(identity: identity)
            let locale = PhoneNumber.canonicalLocale(body.locale)
            let carrier: SMSCarrier
            do {
                carrier = try await storage.smsCarrier(locale: locale, name: body.carrier)
            } catch let error as DirectoryError where error.code == .notFound {
                throw DirectoryError(.notFound, field: "carrier", "no carrier \"\(body.carrier)\" in locale \(locale): GET sms/carriers?locale=\(locale) lists them")
            }
            let number = try PhoneNumber.normalize(body.number, locale: locale).get()
            guard let sms else { throw APIError(.serviceUnavailable, code: "sms_unavailable", "text messaging is not running on this server") }
            var random = SystemRandomNumberGenerator()
            let code = SMSSetup.makeCode(using: &random), salt = SMSSetup.makeSalt(using: &random)
            let now = clock()
            let (settings, _) = try await storage.updateSMSSettings(mailbox: identity) { settings in
                settings = try SMSSetup.start(settings, number: number, locale: locale, carrier: carrier.name, code: code, salt: salt,
                                              now: now, limits: limits)
            }
            counted("setup")
            try await Self.sendPasscode(code, number: number, carrier: carrier, locale: locale, identity: identity, sms: sms,
                                        storage: storage, limits: limits)
            return try APIResponses.json(try await Self.status(storage, identity, settings, limits: limits, now: now), status: .accepted)
        }
        table.add(.post, "\(base)/resend", "Text a new passcode for the set-up in progress (the previous one stops working)",
                  responses: [(202, "SMSStatus"), (404, "Error"), (409, "Error"), (429, "Error"), (502, "Error")]) { _, context in
            let identity = try APIResponses.parameter("identity", context)
            guard let sms else { throw APIError(.serviceUnavailable, code: "sms_unavailable", "text messaging is not running on this server") }
            var random = SystemRandomNumberGenerator()
            let code = SMSSetup.makeCode(using: &random), salt = SMSSetup.makeSalt(using: &random)
            let now = clock()
            let (settings, _) = try await storage.updateSMSSettings(mailbox: identity) { settings in
                settings = try SMSSetup.resend(settings, code: code, salt: salt, now: now, limits: limits)
            }
            guard let pending = settings.pending else { throw SMSSetupError.noSetup }
            let carrier = try await storage.smsCarrier(locale: pending.locale, name: pending.carrier)
            counted("resend")
            try await Self.sendPasscode(code, number: pending.number, carrier: carrier, locale: pending.locale, identity: identity,
                                        sms: sms, storage: storage, limits: limits)
            return try APIResponses.json(try await Self.status(storage, identity, settings, limits: limits, now: now), status: .accepted)
        }
        table.add(.post, "\(base)/verify", "Complete the set-up with the passcode the user received", request: "SMSVerifyRequest",
                  responses: [(200, "SMSStatus"), (400, "Error"), (403, "Error"), (404, "Error"), (409, "Error"), (410, "Error")]) { request, context in
            let identity = try APIResponses.parameter("identity", context)
            let body = try await APIResponses.decode(SMSVerifyRequest.self, from: request, context: context)
            guard let code = SMSSetup.normalizedCode(body.code) else {
                throw DirectoryError.invalid("code", "must be the six digits of the passcode")
            }
            let now = clock()
            let (settings, refusal) = try await storage.updateSMSSettings(mailbox: identity) { (settings: inout SMSSettings) -> SMSSetupError? in
                let result = SMSSetup.verify(settings, code: code, now: now, limits: limits)
                settings = result.settings
                return result.refusal
            }
            counted("verify")
            if let refusal {
                if case .lockedOut = refusal {
                    try await storage.log(.warning, kind: "sms.lockedout", subject: identity,
                                          message: "text messaging set-up cancelled after \(limits.maximumWrongCodes) wrong passcodes")
                }
                throw refusal
            }
            try await storage.log(.info, kind: "sms.verified", subject: identity,
                                  message: "mobile number \(PhoneNumber.masked(settings.number ?? "")) verified (\(settings.carrier ?? ""), \(settings.locale ?? ""))")
            return try APIResponses.json(try await Self.status(storage, identity, settings, limits: limits, now: now))
        }
        table.add(.get, "\(base)/history", "The mailbox's texts, newest first, with what became of each",
                  responses: [(200, "[SMSRecord]"), (404, "Error")],
                  query: [("limit", "at most this many (1–100, default 20)")]) { request, context in
            let identity = try APIResponses.parameter("identity", context)
            let limit = try APIResponses.queryInt("limit", request, default: 20, range: 1...100)
            return try APIResponses.json(try await storage.smsHistory(mailbox: identity, limit: limit).map(SMSRecordView.init))
        }
    }

    /// Texts the passcode now; a failure is a 502 naming the route's answer (the set-up
    /// stays, a resend is possible).
    private static func sendPasscode(_ code: String, number: String, carrier: SMSCarrier, locale: String, identity: String,
                                     sms: any SMSGateway, storage: any Storage, limits: SMSSetupLimits) async throws {
        let text = SMSComposer.passcode(code, locale: locale, minutes: Int(limits.codeLifetime / 60))
        let outcome = await sms.sendNow(text, to: number, carrier: carrier)
        if let failure = outcome.failure {
            try await storage.log(.error, kind: "sms.passcode.failed", subject: identity,
                                  message: "passcode to \(PhoneNumber.masked(number)) not sent via \(carrier.route): \(failure.reason)")
            throw APIError(.badGateway, code: "sms_send_failed",
                           "the passcode could not be sent through route \(carrier.route): \(failure.reason); try sms/resend later")
        }
        try await storage.log(.info, kind: "sms.passcode.sent", subject: identity,
                              message: "passcode sent to \(PhoneNumber.masked(number)) via \(carrier.name) (\(carrier.route))")
    }

    private func missedCalls(_ table: RouteTable<Context>) {
        let storage = self.storage, clock = self.clock, makeID = self.makeID, sms = self.sms
        let reported = Counter(label: "mwid_missed_calls_total")
        table.add(.post, "/api/v1/calls/missed", "Report a call diverted to voice mail where the caller left no message",
                  request: "MissedCallReport", responses: [(201, "MissedCall"), (400, "Error"), (404, "Error")]) { request, context in
            let report = try await APIResponses.decode(MissedCallReport.self, from: request, context: context)
            let call = try await storage.recordMissedCall(report, id: makeID(), at: clock())
            reported.increment()
            if call.sms != nil { sms?.wake() }
            return try APIResponses.json(call, status: .created,
                                         location: "/api/v1/mailboxes/\(APIResponses.pathComponent(call.mailbox))/missedcalls")
        }
        table.add(.get, "/api/v1/mailboxes/{identity}/missedcalls", "The mailbox's missed calls, newest first",
                  responses: [(200, "[MissedCall]"), (404, "Error")],
                  query: [("limit", "at most this many (1–200, default 50)")]) { request, context in
            let limit = try APIResponses.queryInt("limit", request, default: 50, range: 1...200)
            return try APIResponses.json(try await storage.missedCalls(mailbox: try APIResponses.parameter("identity", context), limit: limit))
        }
    }
}

/// `POST sms/setup`.
struct SMSSetupRequest: Decodable {
    var locale: String
    var carrier: String
    var number: String

    enum CodingKeys: String, CodingKey, CaseIterable { case locale, carrier, number }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        locale = try c.decode(String.self, forKey: .locale)
        carrier = try c.decode(String.self, forKey: .carrier)
        number = try c.decode(String.self, forKey: .number)
    }
}

/// `POST sms/verify`.
struct SMSVerifyRequest: Decodable {
    var code: String

    enum CodingKeys: String, CodingKey, CaseIterable { case code }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        // A code typed as a number is accepted too.
        if let number = try? c.decode(Int.self, forKey: .code) {
            code = String(number).leftPadded(6)
        } else {
            code = try c.decode(String.self, forKey: .code)
        }
    }
}

/// `PATCH mailboxes/{id}/sms`: a field given changes (null clears it), a field left out stays.
struct SMSPreferences: Decodable {
    struct Change<Value: Decodable & Sendable>: Sendable { var value: Value? }
    var quietHours: Change<QuietHours>?
    var timeZone: Change<String>?

    enum CodingKeys: String, CodingKey, CaseIterable { case quietHours, timeZone }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.quietHours) { quietHours = Change(value: try c.decodeNil(forKey: .quietHours) ? nil : try c.decode(QuietHours.self, forKey: .quietHours)) }
        if c.contains(.timeZone) { timeZone = Change(value: try c.decodeNil(forKey: .timeZone) ? nil : try c.decode(String.self, forKey: .timeZone)) }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// `GET mailboxes/{id}/sms`: never the number in full, never anything of the code.
struct SMSStatusView: Encodable, Sendable {
    struct Pending: Encodable, Sendable {
        var number: String
        var locale: String
        var carrier: String
        var expiresAt: Date
        var expired: Bool
        var triesLeft: Int
    }

    struct Active: Encodable, Sendable {
        var voiceMail: Bool
        var missedCalls: Bool
        var reason: String
    }

    var state: SMSSettings.State
    var number: String?
    var locale: String?
    var carrier: String?
    var verifiedAt: Date?
    var pending: Pending?
    var passcodesLeftThisHour: Int
    var quietHours: QuietHours?
    var timeZone: String?
    var umSMSNotificationOption: SMSNotificationOption
    var allowSMSNotification: Bool
    var active: Active

    init(settings: SMSSettings, mailbox: UMMailbox, policy: MailboxPolicy, limits: SMSSetupLimits, now: Date) {
        state = settings.state
        number = settings.number.map(PhoneNumber.masked)
        locale = settings.locale
        carrier = settings.carrier
        verifiedAt = settings.verifiedAt
        pending = settings.pending.map {
            Pending(number: PhoneNumber.masked($0.number), locale: $0.locale, carrier: $0.carrier, expiresAt: $0.expiresAt,
                    expired: now >= $0.expiresAt, triesLeft: max(0, limits.maximumWrongCodes - $0.wrongCodes))
        }
        passcodesLeftThisHour = max(0, limits.sendsPerHour - settings.sends.filter { now.timeIntervalSince($0) < 3600 && $0 <= now }.count)
        quietHours = settings.quietHours
        timeZone = settings.timeZone
        umSMSNotificationOption = mailbox.umSMSNotificationOption
        allowSMSNotification = policy.allowSMSNotification
        let voice = SMSNotificationDecision.decide(.voiceMail, policy: policy, option: mailbox.umSMSNotificationOption, settings: settings)
        let missed = SMSNotificationDecision.decide(.missedCall, policy: policy, option: mailbox.umSMSNotificationOption, settings: settings)
        active = Active(voiceMail: voice.send, missedCalls: missed.send, reason: missed.send ? missed.reason : voice.reason)
    }

    func encode(to encoder: any Encoder) throws {
        enum K: String, CodingKey {
            case state, number, locale, carrier, verifiedAt, pending, passcodesLeftThisHour, quietHours, timeZone
            case umSMSNotificationOption, allowSMSNotification, active
        }
        var c = encoder.container(keyedBy: K.self)
        try c.encode(state, forKey: .state)
        try c.encode(number, forKey: .number)
        try c.encode(locale, forKey: .locale)
        try c.encode(carrier, forKey: .carrier)
        try c.encode(verifiedAt, forKey: .verifiedAt)
        try c.encode(pending, forKey: .pending)
        try c.encode(passcodesLeftThisHour, forKey: .passcodesLeftThisHour)
        try c.encode(quietHours, forKey: .quietHours)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(umSMSNotificationOption, forKey: .umSMSNotificationOption)
        try c.encode(allowSMSNotification, forKey: .allowSMSNotification)
        try c.encode(active, forKey: .active)
    }
}

/// A text of the history, its number masked.
struct SMSRecordView: Encodable, Sendable {
    var id: String
    var purpose: SMSPurpose
    var subject: String
    var number: String
    var carrier: String
    var route: String?
    var text: String
    var createdAt: Date
    var notBefore: Date
    var status: SMSStatus
    var attempts: Int
    var partsSent: Int
    var lastError: String?
    var updatedAt: Date

    init(_ record: SMSRecord) {
        id = record.id
        purpose = record.purpose
        subject = record.subject
        number = PhoneNumber.masked(record.number)
        carrier = record.carrier
        route = record.route
        text = record.text
        createdAt = record.createdAt
        notBefore = record.notBefore
        status = record.status
        attempts = record.attempts
        partsSent = record.partsSent
        lastError = record.lastError
        updatedAt = record.updatedAt
    }
}
