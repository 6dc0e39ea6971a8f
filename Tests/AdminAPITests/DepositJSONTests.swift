@testable import AdminAPI
import Foundation
import NIOCore
import Testing
import UnifiedMessaging

/// The deposit's own JSON reader and writer must agree with Foundation's coders to the
/// byte, or step aside for them.
@Suite struct DepositJSONTests {
    static func foundation(_ body: String) -> VoiceMessageDeposit? {
        try? APICoding.sharedDecoder.decode(VoiceMessageDeposit.self, from: Data(body.utf8))
    }

    /// Bodies the reader takes: the same value as Foundation's.
    @Test(arguments: [
        #"{"from":"+33142685300","durationSeconds":12}"#,
        #"  { "from" : "+33142685300" , "durationSeconds" : 0 , "urgent" : true }  "#,
        "{\n\t\"durationSeconds\": 9223372036854775807,\r\n\"from\": \"sip:bob@example.com\"}\n",
        #"{"from":"Zoë 😀","durationSeconds":-3,"protected":false,"read":true,"transcript":"Rappelez-moi / merci"}"#,
        #"{"from":"","durationSeconds":-9223372036854775808,"transcript":""}"#,
    ])
    func plainBodiesAreReadAsFoundationReadsThem(_ body: String) throws {
        let expected = try #require(Self.foundation(body))
        #expect(DepositJSON.deposit(ByteBuffer(string: body)) == expected)
    }

    /// Bodies it leaves to Foundation, which decodes some (escapes, nulls, a time) and
    /// refuses the others with the error that names the field.
    @Test(arguments: [
        #"{"from":"Zo\u00eb \"Z\"","durationSeconds":12}"#,
        #"{"from":"+331","durationSeconds":12,"transcript":null}"#,
        #"{"from":"+331","durationSeconds":12,"receivedAt":"2026-11-29T08:30:00Z"}"#,
        #"{"from":"+331","durationSeconds":12.0}"#,
        #"{"from":"+331","durationSeconds":1e2}"#,
        #"{"from":"+331","durationSeconds":012}"#,
        #"{"from":"+331","durationSeconds":9223372036854775808}"#,
        #"{"from":"+331","durationSeconds":"12"}"#,
        #"{"from":"+331","durationSeconds":12,"colour":"red"}"#,
        #"{"from":"+331","from":"+332","durationSeconds":12}"#,
        #"{"from":"+331","durationSeconds":12,"urgent":"yes"}"#,
        #"{"from":"+331","durationSeconds":12,"urgent":tru}"#,
        #"{"from":"+331","durationSeconds":12,}"#,
        #"{"from":"+331","durationSeconds":12} x"#,
        #"{"from":"+331","durationSeconds":12"#,
        #"{"from":"+331"}"#,
        #"{"durationSeconds":12}"#,
        #"{"from":{"a":1},"durationSeconds":12}"#,
        #"[{"from":"+331","durationSeconds":12}]"#,
        "{\"from\":\"a\tb\",\"durationSeconds\":12}",
        "{}", "", "not json", "-",
    ])
    func everythingElseIsLeftToFoundation(_ body: String) {
        #expect(DepositJSON.deposit(ByteBuffer(string: body)) == nil)
    }

    @Test func invalidUTF8IsLeftToFoundation() {
        var body = ByteBuffer(string: #"{"from":""#)
        body.writeBytes([0xC3, 0x28])
        body.writeString(#"","durationSeconds":1}"#)
        #expect(DepositJSON.deposit(body) == nil)
    }

    /// The answer is `APIResponses.body`'s, byte for byte, or nothing.
    @Test(arguments: [
        VoiceMessage(id: "5B0F7C3A-9D1E-4C55-8F1A-2A6E0C9B7D41", from: "+33142685300",
                     receivedAt: Date(timeIntervalSince1970: 1_796_000_000.123), durationSeconds: 12),
        VoiceMessage(id: "x", from: "sip:zoë@example.com/😀", receivedAt: Date(timeIntervalSince1970: 0), durationSeconds: -1,
                     urgent: true, protected: true, read: true, transcript: "Rappelez-moi\u{2028}s'il vous plaît"),
        VoiceMessage(id: "", from: "", receivedAt: Date(timeIntervalSince1970: 4_102_444_799), durationSeconds: Int.max, transcript: ""),
    ])
    func answersAreWrittenAsFoundationWritesThem(_ message: VoiceMessage) throws {
        let written = try #require(DepositJSON.message(message))
        #expect(String(buffer: written) == String(buffer: try APIResponses.body(message)))
    }

    @Test(arguments: ["say \"hi\"", "back\\slash", "line\nbreak", "tab\there", "bell\u{7}", "del\u{7F}"])
    func stringsThatNeedEscapingAreLeftToFoundation(_ text: String) {
        let message = VoiceMessage(id: "1", from: "+331", receivedAt: Date(), durationSeconds: 1, transcript: text)
        #expect(DepositJSON.message(message) == nil)
    }

    @Test func timesAreWrittenAsFoundationWritesThem() {
        var random = SystemRandomNumberGenerator()
        let fixed: [Double] = [0, 0.5, 0.999_999, 59.999, 951_782_400, 1_796_000_000.123, 4_102_444_799.999, 253_402_300_799,
                               253_402_300_800, -1, -0.25, -62_135_596_800]
        let randomTimes = (0..<500).map { _ in Double.random(in: 0..<4_200_000_000, using: &random) }
        for seconds in fixed + randomTimes {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(APICoding.formatTime(date) == date.formatted(.iso8601), "\(seconds)")
        }
    }

    @Test func theBearerTokenIsCheckedByBytesAsItWasByCharacters() {
        let token = "0123456789abcdef"
        for header in ["Bearer 0123456789abcdef", "bearer 0123456789abcdef", "BEARER \t0123456789abcdef \t", "bEaReR  0123456789abcdef"] {
            #expect(BearerToken.accepts(header, token: token), "\(header)")
        }
        for header in ["Bearer", "Bearer ", "Bearer 0123456789abcde", "Bearer 0123456789abcdefg", "Basic 0123456789abcdef",
                       "Bearer\u{0}0123456789abcdef", "Bearer0123456789abcdef", "Bearer 0123456789ABCDEF", "Bearer é0123456789abcdef",
                       "", "Bearer 01234567 89abcdef"] {
            #expect(!BearerToken.accepts(header, token: token), "\(header)")
        }
        // Outside ASCII, Unicode's blanks are trimmed as before.
        #expect(BearerToken.accepts("Bearer \u{00A0}0123456789abcdef", token: token))
    }

    @Test func identitiesAreEncodedForPathsAsBefore() {
        for identity in ["alice", "user0000001", "a-b.c_d~e", "alice@example.com", "a b", "a/b?c#d", "Zoë", "100%"] {
            let foundation = identity.addingPercentEncoding(
                withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? identity
            #expect(APIResponses.pathComponent(identity) == foundation, "\(identity)")
        }
    }
}
