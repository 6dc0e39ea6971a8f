import Foundation
import Testing
import UnifiedMessaging

@Suite struct SMSTextTests {
    @Test func gsmTextInOnePartUpTo160Septets() {
        let text = SMSText(String(repeating: "a", count: 160))
        #expect(text.coding == .gsm7)
        #expect(text.parts.count == 1 && text.parts[0].count == 160)
        // "@" is septet 0, "é" 0x05, "à" 0x7F: unpacked, one byte each.
        #expect(SMSText("@éà").parts == [[0x00, 0x05, 0x7F]])
    }

    @Test func longerGSMTextInPartsOf153() {
        let text = SMSText(String(repeating: "b", count: 161))
        #expect(text.parts.map(\.count) == [153, 8])
        #expect(text.text.count == 161)
    }

    @Test func extensionCharactersCountTwiceAndAreNeverSplit() {
        // "€" is ESC 0x65: 80 of them are 160 septets, one part.
        #expect(SMSText(String(repeating: "€", count: 80)).parts.count == 1)
        // 152 letters then "€": the escape pair does not straddle the part boundary.
        let text = SMSText(String(repeating: "c", count: 152) + "€" + String(repeating: "c", count: 10))
        #expect(text.parts[0].count == 152 && text.parts[1].prefix(2) == [0x1B, 0x65])
        #expect(GSM7.septets(of: "[€]") == [0x1B, 0x3C, 0x1B, 0x65, 0x1B, 0x3E])
    }

    @Test func ucs2WhenACharacterIsNotInTheAlphabet() {
        let one = SMSText(String(repeating: "ô", count: 70))
        #expect(one.coding == .ucs2 && one.parts.count == 1 && one.parts[0].count == 140)
        #expect(SMSText("ô").parts == [[0x00, 0xF4]])
        let two = SMSText(String(repeating: "ô", count: 71))
        #expect(two.parts.map(\.count) == [134, 8])
        // A surrogate pair (an emoji) stays in one part.
        let emoji = SMSText(String(repeating: "x", count: 66) + "😀" + "yyyyy")
        #expect(emoji.coding == .ucs2 && emoji.parts.map(\.count) == [132, 14])
    }

    @Test func tooLongIsCutCleanlyWithAnEllipsis() {
        let text = SMSText(String(repeating: "word ", count: 200), maximumParts: 2)
        #expect(text.parts.count == 2 && text.parts.allSatisfy { $0.count <= 153 })
        #expect(text.text.hasSuffix("...") && text.text.count == 306)
        let ucs = SMSText(String(repeating: "ô", count: 500), maximumParts: 3)
        #expect(ucs.parts.count == 3 && ucs.text.hasSuffix("…") && ucs.text.count == 201)
        // One part only: 157 letters and the ellipsis.
        #expect(SMSText(String(repeating: "z", count: 400), maximumParts: 1).text.count == 160)
    }
}

@Suite struct PhoneNumberTests {
    @Test func nationalNumbersReadInTheLocalesCountry() throws {
        #expect(try PhoneNumber.normalize("06 12 34 56 78", locale: "fr-FR").get() == "+33612345678")
        #expect(try PhoneNumber.normalize("06.12.34.56.78", locale: "fr_FR").get() == "+33612345678")
        #expect(try PhoneNumber.normalize("+33 6 12 34 56 78", locale: "en-US").get() == "+33612345678")
        #expect(try PhoneNumber.normalize("0033612345678", locale: "de-DE").get() == "+33612345678")
        #expect(try PhoneNumber.normalize("(415) 555-0100", locale: "en-US").get() == "+14155550100")
        #expect(try PhoneNumber.normalize("1 415 555 0100", locale: "en-US").get() == "+14155550100")
        #expect(try PhoneNumber.normalize("011 44 7700 900123", locale: "en-US").get() == "+447700900123")
        #expect(try PhoneNumber.normalize("07700 900123", locale: "en-GB").get() == "+447700900123")
        #expect(try PhoneNumber.normalize("06 1234 5678", locale: "it-IT").get() == "+390612345678")
    }

    @Test func refusalsNameTheNumber() {
        for (text, locale) in [("06 12 AB 56 78", "fr-FR"), ("123", "fr-FR"), ("+1234567890123456", "fr-FR"), ("0612345678", "xx"),
                               ("", "fr-FR"), ("06+12345678", "fr-FR")] {
            guard case .failure(let error) = PhoneNumber.normalize(text, locale: locale) else {
                Issue.record("\(text) in \(locale) was accepted")
                continue
            }
            #expect(error.field == "number", "\(error)")
        }
    }

    @Test func callersShownInTheDialPlansNationalForm() {
        #expect(PhoneNumber.display(caller: "+33142685300", countryCode: "33") == "01 42 68 53 00")
        #expect(PhoneNumber.display(caller: "sip:+33142685300@pbx.example.com", countryCode: "33") == "01 42 68 53 00")
        #expect(PhoneNumber.display(caller: "0142685300", countryCode: "33") == "01 42 68 53 00")
        #expect(PhoneNumber.display(caller: "+14155550100", countryCode: "1") == "(415) 555-0100")
        #expect(PhoneNumber.display(caller: "+14155550100", countryCode: "33") == "+14155550100")
        #expect(PhoneNumber.display(caller: "sip:bob@example.com", countryCode: "33") == "bob@example.com")
        #expect(PhoneNumber.display(caller: "1234", countryCode: "33") == "1234")
    }

    @Test func ownNumberMasked() {
        #expect(PhoneNumber.masked("+33612345678") == "+336••••••78")
        #expect(!PhoneNumber.masked("+33612345678").contains("345"))
    }
}

@Suite struct SMSSetupTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let limits = SMSSetupLimits()

    func begun(_ code: String = "909090") throws -> SMSSettings {
        try SMSSetup.start(SMSSettings(), number: "+33612345678", locale: "fr-FR", carrier: "Orange", code: code, salt: "s1",
                           now: start, limits: limits)
    }

    @Test func theRightCodeVerifiesTheNumber() throws {
        let pending = try begun()
        #expect(pending.state == .pending && pending.number == nil)
        let stored = String(decoding: try JSONEncoder().encode(pending), as: UTF8.self)
        #expect(!stored.contains("909090"), "the code is stored hashed only")
        let (verified, refusal) = SMSSetup.verify(pending, code: "909090", now: start + 60, limits: limits)
        #expect(refusal == nil)
        #expect(verified.state == .verified && verified.number == "+33612345678" && verified.carrier == "Orange" && verified.pending == nil)
    }

    @Test func wrongCodesAreCountedThenTheSetupIsCancelled() throws {
        var settings = try begun()
        for left in (1...4).reversed() {
            let result = SMSSetup.verify(settings, code: "000000", now: start + 1, limits: limits)
            #expect(result.refusal == .wrongCode(triesLeft: left))
            settings = result.settings
        }
        let last = SMSSetup.verify(settings, code: "000000", now: start + 1, limits: limits)
        #expect(last.refusal == .lockedOut && last.settings.pending == nil)
        // Even the right code is too late now.
        #expect(SMSSetup.verify(last.settings, code: "909090", now: start + 2, limits: limits).refusal == .noSetup)
    }

    @Test func codesExpire() throws {
        let pending = try begun()
        let late = SMSSetup.verify(pending, code: "909090", now: start + limits.codeLifetime, limits: limits)
        #expect(late.refusal == .expired && late.settings.pending == nil && late.settings.number == nil)
        #expect(SMSSetup.verify(pending, code: "909090", now: start + limits.codeLifetime - 1, limits: limits).refusal == nil)
    }

    @Test func resendReplacesTheCodeAndKeepsTheWrongTries() throws {
        var settings = try begun("111111")
        settings = SMSSetup.verify(settings, code: "999999", now: start + 1, limits: limits).settings
        settings = try SMSSetup.resend(settings, code: "222222", salt: "s2", now: start + 10, limits: limits)
        #expect(settings.pending?.wrongCodes == 1)
        #expect(SMSSetup.verify(settings, code: "111111", now: start + 11, limits: limits).refusal == .wrongCode(triesLeft: 3))
        #expect(SMSSetup.verify(settings, code: "222222", now: start + 11, limits: limits).refusal == nil)
        #expect(throws: SMSSetupError.noSetup) { try SMSSetup.resend(SMSSettings(), code: "1", salt: "s", now: start, limits: limits) }
    }

    @Test func atMostFivePasscodesAnHour() throws {
        var settings = SMSSettings()
        for i in 0..<5 {
            settings = try SMSSetup.start(settings, number: "+33612345678", locale: "fr-FR", carrier: "Orange", code: "123456",
                                          salt: "s", now: start + Double(i * 60), limits: limits)
        }
        #expect(throws: SMSSetupError.tooManySends(retryAt: start + 3600)) {
            try SMSSetup.resend(settings, code: "1", salt: "s", now: start + 600, limits: limits)
        }
        // An hour after the first, one more may go.
        settings = try SMSSetup.resend(settings, code: "654321", salt: "s", now: start + 3600, limits: limits)
        #expect(settings.sends.count == 5)
    }

    @Test func codesAsTyped() {
        #expect(SMSSetup.normalizedCode("123 456") == "123456")
        #expect(SMSSetup.normalizedCode("12345") == nil && SMSSetup.normalizedCode("12345a") == nil && SMSSetup.normalizedCode("１２３４５６") == nil)
        var random = SystemRandomNumberGenerator()
        let codes = (0..<50).map { _ in SMSSetup.makeCode(using: &random) }
        #expect(codes.allSatisfy { $0.count == 6 && $0.allSatisfy(\.isNumber) } && Set(codes).count > 40)
    }
}

@Suite struct SMSDecisionTests {
    /// SPEC §3 for every policy × option × number: who gets which text.
    @Test(arguments: [true, false], [SMSNotificationOption.none, .voiceMail, .voiceMailAndMissedCalls])
    func policyOptionAndVerifiedNumber(allowed: Bool, option: SMSNotificationOption) {
        let policy = MailboxPolicy(name: "P", dialPlan: "D", allowSMSNotification: allowed)
        for verified in [true, false] {
            let settings = verified ? SMSSettings(number: "+33612345678", locale: "fr-FR", carrier: "Orange") : SMSSettings()
            let voice = SMSNotificationDecision.decide(.voiceMail, policy: policy, option: option, settings: settings)
            let missed = SMSNotificationDecision.decide(.missedCall, policy: policy, option: option, settings: settings)
            #expect(voice.send == (allowed && verified && option != .none), "\(voice.reason)")
            #expect(missed.send == (allowed && verified && option == .voiceMailAndMissedCalls), "\(missed.reason)")
            if !allowed { #expect(voice.reason.contains("policy")) }
        }
        // A set-up still waiting for its code is not a number to text.
        let pending = SMSSettings(pending: PendingSetup(number: "+33612345678", locale: "fr-FR", carrier: "O", codeHash: "h", salt: "s",
                                                        expiresAt: .distantFuture))
        #expect(!SMSNotificationDecision.decide(.voiceMail, policy: policy, option: option, settings: pending).send)
    }
}

@Suite struct QuietHoursTests {
    let paris = TimeZone(identifier: "Europe/Paris")!

    func date(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    @Test func heldUntilTheWindowEnds() {
        let night = QuietHours(start: "22:00", end: "07:00")
        // 23:30 in Paris (winter, UTC+1) → 07:00 the next morning.
        #expect(night.release(date("2026-12-01T22:30:00Z"), in: paris) == date("2026-12-02T06:00:00Z"))
        // 03:00 → 07:00 the same morning.
        #expect(night.release(date("2026-12-02T02:00:00Z"), in: paris) == date("2026-12-02T06:00:00Z"))
        // 12:00 is outside: at once.
        #expect(night.release(date("2026-12-02T11:00:00Z"), in: paris) == date("2026-12-02T11:00:00Z"))
        // A window within the day.
        let lunch = QuietHours(start: "12:00", end: "14:00")
        #expect(lunch.release(date("2026-12-02T11:30:00Z"), in: paris) == date("2026-12-02T13:00:00Z"))
        #expect(lunch.release(date("2026-12-02T13:00:00Z"), in: paris) == date("2026-12-02T13:00:00Z"))
    }

    @Test func daylightSavingFollowed() {
        // The night of 28–29 March 2026 Paris moves to UTC+2: 07:00 is 05:00 UTC.
        let night = QuietHours(start: "22:00", end: "07:00")
        #expect(night.release(date("2026-03-28T22:30:00Z"), in: paris) == date("2026-03-29T05:00:00Z"))
    }

    @Test func badTimesRefusedByName() {
        #expect(throws: DirectoryError.invalid("quietHours.start", "must be a time HH:MM from 00:00 to 23:59 (got \"25:00\")")) {
            try DirectoryValidation.check(QuietHours(start: "25:00", end: "07:00"), timeZone: nil)
        }
        #expect((try? DirectoryValidation.check(QuietHours(start: "07:00", end: "07:00"), timeZone: nil)) == nil)
        #expect(throws: DirectoryError.self) { try DirectoryValidation.check(nil, timeZone: "Mars/Olympus") }
        #expect((try? DirectoryValidation.check(QuietHours(start: "22:00", end: "7:00"), timeZone: nil)) == nil)
    }
}

@Suite struct SMSComposerTests {
    let now = try! Date("2026-12-01T13:05:00Z", strategy: .iso8601)
    let paris = TimeZone(identifier: "Europe/Paris")!

    @Test func voiceMailPreviewNamesCallerTimeDurationAndTranscript() {
        let message = VoiceMessage(id: "m", from: "+33142685300", receivedAt: now, durationSeconds: 42, transcript: "Bonjour,\nc'est Paul")
        #expect(SMSComposer.voiceMail(message, countryCode: "33", locale: "fr-FR", zone: paris, now: now)
            == "Message vocal de 01 42 68 53 00 à 14:05 (0:42) : Bonjour, c'est Paul")
        #expect(SMSComposer.voiceMail(message, countryCode: "1", locale: "en-US", zone: TimeZone(identifier: "UTC")!, now: now)
            == "Voice mail from +33142685300 at 13:05 (0:42): Bonjour, c'est Paul")
        var urgent = message
        urgent.urgent = true
        urgent.transcript = nil
        urgent.from = "anonymous"
        #expect(SMSComposer.voiceMail(urgent, countryCode: "33", locale: "en-GB", zone: paris, now: now + 86_400)
            == "Urgent voice mail from unknown caller at 12/01 14:05 (0:42)")
    }

    @Test func missedCallAndPasscode() {
        #expect(SMSComposer.missedCall(from: "0612345678", at: now, countryCode: "33", locale: "fr-FR", zone: paris, now: now)
            == "Appel manqué de 06 12 34 56 78 à 14:05 (pas de message)")
        #expect(SMSComposer.passcode("012345", locale: "en-US", minutes: 15).contains("012345"))
        // Every text is in the GSM alphabet (one 7-bit part is cheaper and always shown right).
        #expect(SMSText(SMSComposer.missedCall(from: "+33612345678", at: now, countryCode: "33", locale: "fr-FR", zone: paris, now: now)).coding == .gsm7)
        #expect(SMSText(SMSComposer.passcode("012345", locale: "fr-FR", minutes: 15)).coding == .gsm7)
    }
}

@Suite struct SMSRetryPolicyTests {
    let created = Date(timeIntervalSince1970: 1_800_000_000)
    var record: SMSRecord {
        SMSRecord(id: "t", mailbox: "a", purpose: .voiceMail, subject: "m", number: "+33612345678", carrier: "O", locale: "fr-FR",
                  text: "hi", createdAt: created, notBefore: created)
    }

    @Test func temporaryFailuresBackOffThenFail() {
        var policy = SMSRetryPolicy()
        policy.backoff = 10
        policy.maximumBackoff = 40
        policy.window = 100
        var r = record
        var waits: [TimeInterval] = []
        var now = created
        while true {
            r = policy.apply(.failed(.temporary("busy")), to: r, route: "smsc", totalParts: 1, now: now)
            guard r.status == .queued else { break }
            waits.append(r.notBefore.timeIntervalSince(now))
            now = r.notBefore
        }
        #expect(waits == [10, 20, 40])
        #expect(r.status == .failed && r.lastError?.contains("still failing after 4 attempts") == true && r.attempts == 4)
    }

    @Test func outcomesBecomeStatuses() {
        let policy = SMSRetryPolicy()
        #expect(policy.apply(SMSSendOutcome(accepted: 2, messageIDs: ["m1", "m2"]), to: record, route: "smsc", totalParts: 2, now: created).status == .sent)
        #expect(policy.apply(.failed(.permanent("ESME_RINVDSTADR")), to: record, route: "smsc", totalParts: 1, now: created).status == .failed)
        #expect(policy.apply(.failed(.unknown("lost")), to: record, route: "smsc", totalParts: 1, now: created).status == .unconfirmed)
        // Parts accepted before a failure are remembered: the retry sends the rest only.
        let partial = policy.apply(SMSSendOutcome(accepted: 1, messageIDs: ["m1"], failure: .temporary("throttled")), to: record,
                                   route: "smsc", totalParts: 3, now: created)
        #expect(partial.status == .queued && partial.partsSent == 1 && partial.messageIDs == ["m1"] && partial.route == "smsc")
    }
}

@Suite struct SMSRouteValidationTests {
    func decode(_ json: String) throws -> SMSRoute { try JSONDecoder().decode(SMSRoute.self, from: Data(json.utf8)) }

    func field(_ route: SMSRoute) -> String? {
        do {
            try DirectoryValidation.check(route)
            return nil
        } catch {
            return error.field
        }
    }

    @Test func eachKindNeedsItsFields() throws {
        #expect(field(SMSRoute(name: "k", kind: .http, url: "http://127.0.0.1:13013/cgi-bin/sendsms?to={to}&text={text}")) == nil)
        #expect(field(SMSRoute(name: "k", kind: .http)) == "url")
        #expect(field(SMSRoute(name: "k", kind: .http, url: "http://h/send?to={to}")) == "url")
        #expect(field(SMSRoute(name: "k", kind: .http, url: "http://h/send?to={to}&text={text}&x={nope}")) == "url")
        #expect(field(SMSRoute(name: "k", kind: .http, url: "ftp://h/?to={to}&text={text}")) == "url")
        #expect(field(SMSRoute(name: "k", kind: .http, url: "http://h/?to={to}&text={text}", successPattern: "(")) == "successPattern")
        #expect(field(SMSRoute(name: "s", kind: .smpp, host: "127.0.0.1", systemId: "mwid", password: "secret")) == nil)
        #expect(field(SMSRoute(name: "s", kind: .smpp, host: "127.0.0.1")) == "systemId")
        #expect(field(SMSRoute(name: "s", kind: .smpp, host: "127.0.0.1", systemId: "mwid", password: "123456789")) == "password")
        #expect(field(SMSRoute(name: "s", kind: .smpp, host: "not a host", systemId: "mwid")) == "host")
        #expect(field(SMSRoute(name: "s", kind: .smpp, host: "h.example", systemId: "mwid", window: 0)) == "window")
        #expect(field(SMSRoute(name: "s", kind: .smpp, host: "h.example", systemId: "mwid", sourceAddress: "Far too long a name")) == "sourceAddress")
        #expect(field(SMSRoute(name: "m", kind: .smtp, host: "mail.example", from: "vm@example.com")) == nil)
        #expect(field(SMSRoute(name: "m", kind: .smtp, host: "mail.example", from: "not-an-address")) == "from")
        #expect(field(SMSRoute(name: "m", kind: .smtp, host: "mail.example", from: "vm@example.com", maximumParts: 0)) == "maximumParts")
    }

    @Test func aFieldOfAnotherKindIsRefusedByName() throws {
        #expect(throws: DecodingError.self) { try decode(#"{"name":"s","kind":"smpp","url":"http://x"}"#) }
        #expect(throws: DecodingError.self) { try decode(#"{"name":"s","kind":"smtp","colour":"red"}"#) }
        let route = try decode(#"{"name":"s","kind":"SMPP","host":"127.0.0.1","systemId":"mwid","password":"pw"}"#)
        #expect(route.kind == .smpp && route.port == 2775 && route.window == 10 && route.bind == .transceiver)
        // The password is write-only.
        let shown = String(decoding: try JSONEncoder().encode(route), as: UTF8.self)
        #expect(!shown.contains("\"pw\"") && shown.contains("\"hasPassword\":true"))
    }

    @Test func carriersNeedAKnownCountryAndTheirRoute() {
        let smpp = SMSRoute(name: "s", kind: .smpp, host: "h.example", systemId: "mwid")
        let mail = SMSRoute(name: "m", kind: .smtp, host: "h.example", from: "vm@example.com")
        func field(_ carrier: SMSCarrier, _ route: SMSRoute?) -> String? {
            do {
                try DirectoryValidation.check(carrier, route: route)
                return nil
            } catch {
                return error.field
            }
        }
        #expect(field(SMSCarrier(locale: "fr-FR", name: "Orange", route: "s"), smpp) == nil)
        #expect(field(SMSCarrier(locale: "xx-QQ", name: "Orange", route: "s"), smpp) == "locale")
        #expect(field(SMSCarrier(locale: "fr-FR", name: "Orange", route: "s"), nil) == "route")
        #expect(field(SMSCarrier(locale: "fr-FR", name: "Free", route: "m"), mail) == "emailDomain")
        #expect(field(SMSCarrier(locale: "fr-FR", name: "Free", route: "m", emailDomain: "sms.free.example"), mail) == nil)
        #expect(field(SMSCarrier(locale: "fr-FR", name: "Orange", route: "s", emailDomain: "x.example"), smpp) == "emailDomain")
        #expect(PhoneNumber.canonicalLocale("fr_fr") == "fr-FR" && PhoneNumber.canonicalLocale("EN-us") == "en-US")
    }
}
