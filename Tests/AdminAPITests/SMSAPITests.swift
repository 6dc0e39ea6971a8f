import AdminAPI
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import Synchronization
import Testing
import UnifiedMessaging

/// Text messaging through the API over real SQLite. The SMS engine is a recorder here
/// (what it is asked to send, and a switch to make it fail); ProcessTests drive the real
/// routes against Kannel, an SMSC and an SMTP server.
@Suite struct SMSAPITests {
    final class RecordingGateway: SMSGateway {
        let state = Mutex<(sent: [(text: String, number: String, carrier: SMSCarrier)], failing: Bool, wakes: Int)>(([], false, 0))

        func sendNow(_ text: String, to number: String, carrier: SMSCarrier) async -> SMSSendOutcome {
            state.withLock { state in
                state.sent.append((text, number, carrier))
                return state.failing ? .failed(.temporary("HTTP 503 from the gateway")) : SMSSendOutcome(accepted: 1)
            }
        }

        func wake() { state.withLock { $0.wakes += 1 } }

        /// The six digits of the last passcode sent.
        var lastCode: String? {
            state.withLock { $0.sent.last?.text }.flatMap { text in
                text.split(separator: " ").first { $0.count >= 6 && $0.prefix(6).allSatisfy(\.isNumber) }.map { String($0.prefix(6)) }
            }
        }
    }

    final class Clock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
    }

    func withAPI(_ body: @Sendable (AdminAPITests.API, RecordingGateway, Clock) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-sms-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("mwid.sqlite").path)
        let gateway = RecordingGateway(), clock = Clock()
        let api = AdminAPI(storage: storage, token: AdminAPITests.token, prometheus: nil, version: "test",
                           clock: { clock.now.withLock { $0 } }, sms: gateway)
        let app = Application(router: api.makeRouter(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let api = AdminAPITests.API(client: client, storage: storage)
            try await api.seed()
            #expect(try await api.call(.post, "/api/v1/sms/routes",
                                       #"{"name":"smsc","kind":"smpp","host":"127.0.0.1","systemId":"mwid","password":"secret"}"#).status == 201)
            #expect(try await api.call(.post, "/api/v1/sms/carriers", #"{"locale":"fr-FR","name":"Orange","route":"smsc"}"#).status == 201)
            try await body(api, gateway, clock)
        }
    }

    let base = "/api/v1/mailboxes/alice@example.com/sms"
    let setup = #"{"locale":"fr-FR","carrier":"Orange","number":"06 12 34 56 78"}"#

    @Test func setupSendsAPasscodeAndTheRightCodeVerifies() async throws {
        try await withAPI { api, gateway, _ in
            let started = try await api.call(.post, "\(base)/setup", setup)
            #expect(started.status == 202 && started.json["state"]?.string == "pending")
            let code = try #require(gateway.lastCode)
            #expect(gateway.state.withLock { $0.sent.last?.number } == "+33612345678")
            // Neither the code nor the full number is ever in an answer or the event log.
            let shown = try await api.call(.get, base)
            let everything = "\(started.json) \(shown.json) \(try await api.call(.get, "/api/v1/events?limit=1000").json)"
            #expect(!everything.contains(code) && !everything.contains("612345678"))
            #expect(shown.json["pending"]?["number"]?.string == "+336••••••78" && shown.json["pending"]?["triesLeft"] == 5)

            let verified = try await api.call(.post, "\(base)/verify", #"{"code":"\#(code)"}"#)
            #expect(verified.status == 200 && verified.json["state"]?.string == "verified" && verified.json["number"]?.string == "+336••••••78")
            // The option is still None: nothing would be sent, and the status says why.
            #expect(verified.json["active"]?["voiceMail"] == false && verified.json["active"]?["reason"]?.string?.contains("None") == true)
            #expect(try await api.call(.patch, "/api/v1/mailboxes/alice@example.com", #"{"umSMSNotificationOption":"VoiceMail"}"#).status == 200)
            #expect(try await api.call(.get, base).json["active"]?["voiceMail"] == true)

            // A deposit queues its text and nudges the SMS engine.
            #expect(try await api.call(.post, "/api/v1/mailboxes/alice@example.com/messages", #"{"from":"+33142685300","durationSeconds":5}"#).status == 201)
            #expect(gateway.state.withLock { $0.wakes } == 1)
            let history = try await api.call(.get, "\(base)/history")
            #expect(history.json.array?.count == 1 && history.json.array?.first?["status"]?.string == "queued")
            #expect(history.json.array?.first?["number"]?.string == "+336••••••78")

            // DELETE turns it off.
            #expect(try await api.call(.delete, base).status == 204)
            #expect(try await api.call(.get, base).json["state"]?.string == "off")
        }
    }

    @Test func wrongCodesExpiryLockOutAndResend() async throws {
        try await withAPI { api, gateway, clock in
            #expect(try await api.call(.post, "\(base)/verify", #"{"code":"123456"}"#).errorCode == "no_setup")
            #expect(try await api.call(.post, "\(base)/resend").status == 409)
            _ = try await api.call(.post, "\(base)/setup", setup)
            let first = try #require(gateway.lastCode)
            let wrong = first == "000000" ? "111111" : "000000"
            let bad = try await api.call(.post, "\(base)/verify", #"{"code":"\#(wrong)"}"#)
            #expect(bad.status == 400 && bad.errorCode == "wrong_code" && bad.errorField == "code" && bad.errorMessage.contains("4 tries left"))
            let malformed = try await api.call(.post, "\(base)/verify", #"{"code":"12ab56"}"#)
            #expect(malformed.status == 400 && malformed.errorField == "code")
            #expect(try await api.call(.post, "\(base)/verify", #"{"code":"1","extra":true}"#).errorField == "extra")

            // A resend replaces the code: the first one no longer works.
            #expect(try await api.call(.post, "\(base)/resend").status == 202)
            let second = try #require(gateway.lastCode)
            if second != first {
                #expect(try await api.call(.post, "\(base)/verify", #"{"code":"\#(first)"}"#).errorCode == "wrong_code")
            }
            // Expired after 15 minutes.
            clock.advance(15 * 60)
            let expired = try await api.call(.post, "\(base)/verify", #"{"code":"\#(second)"}"#)
            #expect(expired.status == 410 && expired.errorCode == "code_expired")

            // Five wrong codes cancel the set-up.
            clock.advance(3600)
            _ = try await api.call(.post, "\(base)/setup", setup)
            let code = try #require(gateway.lastCode)
            let other = code == "000000" ? "111111" : "000000"
            for _ in 0..<4 { #expect(try await api.call(.post, "\(base)/verify", #"{"code":"\#(other)"}"#).status == 400) }
            let locked = try await api.call(.post, "\(base)/verify", #"{"code":"\#(other)"}"#)
            #expect(locked.status == 403 && locked.errorCode == "locked_out")
            #expect(try await api.call(.post, "\(base)/verify", #"{"code":"\#(code)"}"#).errorCode == "no_setup")
            #expect(try await api.call(.get, "/api/v1/events?subject=alice@example.com").json.array?.contains { $0["kind"]?.string == "sms.lockedout" } == true)
        }
    }

    @Test func atMostFivePasscodesAnHourEvenAcrossDisable() async throws {
        try await withAPI { api, gateway, clock in
            for _ in 0..<3 { #expect(try await api.call(.post, "\(base)/setup", setup).status == 202) }
            #expect(try await api.call(.delete, base).status == 204)
            for _ in 0..<2 { #expect(try await api.call(.post, "\(base)/setup", setup).status == 202) }
            let refused = try await api.call(.post, "\(base)/setup", setup)
            #expect(refused.status == 429 && refused.errorCode == "too_many_passcodes")
            #expect(refused.headers[.retryAfter] != nil)
            #expect(try await api.call(.post, "\(base)/resend").status == 429)
            #expect(gateway.state.withLock { $0.sent.count } == 5)
            #expect(try await api.call(.get, base).json["passcodesLeftThisHour"] == 0)
            clock.advance(3601)
            #expect(try await api.call(.post, "\(base)/resend").status == 202)
        }
    }

    @Test func badSetupsNameTheirField() async throws {
        try await withAPI { api, gateway, _ in
            for (body, status, field) in [
                (#"{"locale":"fr-FR","carrier":"Orange","number":"06 12 AB"}"#, 400, "number"),
                (#"{"locale":"fr-FR","carrier":"Orange","number":"123"}"#, 400, "number"),
                (#"{"locale":"fr-FR","carrier":"Nope","number":"0612345678"}"#, 404, "carrier"),
                (#"{"locale":"de-DE","carrier":"Orange","number":"0612345678"}"#, 404, "carrier"),
                (#"{"locale":"fr-FR","number":"0612345678"}"#, 400, "carrier"),
                (#"{"locale":"fr-FR","carrier":"Orange","number":"0612345678","code":"1"}"#, 400, "code"),
            ] {
                let answer = try await api.call(.post, "\(base)/setup", body)
                #expect(answer.status == status && answer.errorField == field, "\(body): \(answer.json)")
            }
            #expect(try await api.call(.post, "/api/v1/mailboxes/nobody@example.com/sms/setup", setup).status == 404)
            #expect(gateway.state.withLock { $0.sent.isEmpty }, "nothing sent for a refused set-up")
            // The route failing: 502 naming it; the set-up waits for a resend.
            gateway.state.withLock { $0.failing = true }
            let failed = try await api.call(.post, "\(base)/setup", setup)
            #expect(failed.status == 502 && failed.errorCode == "sms_send_failed" && failed.errorMessage.contains("smsc"))
            #expect(try await api.call(.get, base).json["state"]?.string == "pending")
        }
    }

    @Test func quietHoursAndTimeZone() async throws {
        try await withAPI { api, _, _ in
            let set = try await api.call(.patch, base, #"{"quietHours":{"start":"22:00","end":"07:00"},"timeZone":"Europe/Paris"}"#)
            #expect(set.status == 200 && set.json["quietHours"]?["start"]?.string == "22:00" && set.json["timeZone"]?.string == "Europe/Paris")
            #expect(try await api.call(.patch, base, #"{"quietHours":{"start":"22:00","end":"7h"}}"#).errorField == "quietHours.end")
            #expect(try await api.call(.patch, base, #"{"timeZone":"Europe/Atlantis"}"#).errorField == "timeZone")
            #expect(try await api.call(.patch, base, #"{"quiet":true}"#).errorField == "quiet")
            let cleared = try await api.call(.patch, base, #"{"quietHours":null}"#)
            #expect(cleared.json["quietHours"] == .null && cleared.json["timeZone"]?.string == "Europe/Paris")
        }
    }

    @Test func missedCallsRoutesAndCarriers() async throws {
        try await withAPI { api, _, _ in
            let call = try await api.call(.post, "/api/v1/calls/missed", #"{"extension":"1234","dialPlan":"Paris","from":"0612345678"}"#)
            #expect(call.status == 201 && call.json["mailbox"]?.string == "alice@example.com" && call.json["sms"] == .null)
            #expect(try await api.call(.post, "/api/v1/calls/missed", #"{"extension":"1234","from":"1"}"#).errorField == "dialPlan")
            #expect(try await api.call(.post, "/api/v1/calls/missed", #"{"mailbox":"nobody@example.com","from":"1"}"#).status == 404)
            #expect(try await api.call(.post, "/api/v1/calls/missed", #"{"mailbox":"alice@example.com"}"#).errorField == "from")
            #expect(try await api.call(.get, "/api/v1/mailboxes/alice@example.com/missedcalls").json.array?.count == 1)

            let route = try await api.call(.get, "/api/v1/sms/routes/smsc")
            #expect(route.json["password"] == nil && route.json["hasPassword"] == true && route.json["window"] == 10)
            #expect(try await api.call(.post, "/api/v1/sms/routes", #"{"name":"x","kind":"smpp","host":"h.example","url":"http://a"}"#).errorField == "url")
            #expect(try await api.call(.post, "/api/v1/sms/routes", #"{"name":"x","kind":"http"}"#).errorField == "url")
            #expect(try await api.call(.post, "/api/v1/sms/routes", #"{"name":"smsc","kind":"smpp","host":"h.example","systemId":"a"}"#).status == 409)
            #expect(try await api.call(.delete, "/api/v1/sms/routes/smsc").status == 409)
            let carrier = try await api.call(.get, "/api/v1/sms/carriers/fr-FR/Orange")
            #expect(carrier.status == 200 && carrier.json["route"]?.string == "smsc")
            #expect(try await api.call(.patch, "/api/v1/sms/carriers/fr-FR/Orange", #"{"route":"nope"}"#).errorField == "route")
            #expect(try await api.call(.get, "/api/v1/sms/carriers?locale=en-US").json.array?.isEmpty == true)
            #expect(try await api.call(.delete, "/api/v1/sms/carriers/fr-FR/Orange").status == 204)
            #expect(try await api.call(.get, "/api/v1/sms/carriers/fr-FR/Orange").status == 404)
            let document = try await api.call(.get, "/api/v1/openapi.json", token: nil)
            for path in ["/api/v1/sms/routes", "/api/v1/sms/carriers/{locale}/{name}", "/api/v1/mailboxes/{identity}/sms/setup",
                         "/api/v1/mailboxes/{identity}/sms/verify", "/api/v1/calls/missed"] {
                #expect(document.json["paths"]?[path] != nil, "\(path) is documented")
            }
        }
    }
}
