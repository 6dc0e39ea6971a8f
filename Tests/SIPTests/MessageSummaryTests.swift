import Testing
@testable import SIP

@Suite struct MessageSummaryTests {
    @Test func writesCanonicalOrder() {
        var s = MessageSummary(voice: .init(new: 2, old: 8, urgentNew: 1, urgentOld: 0), messageAccount: "sip:1234@pbx.example.com")
        #expect(s.text == "Messages-Waiting: yes\r\nMessage-Account: sip:1234@pbx.example.com\r\nVoice-Message: 2/8 (1/0)\r\n")
        s[.none] = .init(new: 0, old: 1)
        s[.fax] = .init(new: 3, old: 0)
        #expect(s.text == """
            Messages-Waiting: yes\r\nMessage-Account: sip:1234@pbx.example.com\r\nVoice-Message: 2/8 (1/0)\r\n\
            Fax-Message: 3/0 (0/0)\r\nNone: 0/1 (0/0)\r\n
            """)
        let empty = MessageSummary(voice: .zero)
        #expect(empty.text == "Messages-Waiting: no\r\nVoice-Message: 0/0 (0/0)\r\n")
    }

    @Test func readsEveryClassAndRoundTrips() throws {
        let text = """
            Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\n\
            Voice-Message: 4/8 (1/2)\r\nFax-Message: 1/0\r\nPager-Message: 0/0 (0/0)\r\n\
            Multimedia-Message: 7/7 (7/7)\r\nText-Message: 4294967295/0 (0/4294967295)\r\nNone: 0/0\r\n\
            \r\nTo: <alice@atlanta.example.com>\r\nFrom: <bob@biloxi.example.com>\r\nSubject: carpool\r\n\
            \r\nMessage-ID: 12\r\n
            """
        let s = try MessageSummary(parsing: text)
        #expect(s.messagesWaiting)
        #expect(s.messageAccount == "sip:alice@vmail.example.com")
        #expect(s[.voice] == .init(new: 4, old: 8, urgentNew: 1, urgentOld: 2))
        #expect(s[.fax] == .init(new: 1, old: 0))
        #expect(s[.text] == .init(new: UInt32.max, old: 0, urgentNew: 0, urgentOld: UInt32.max))
        #expect(s.counts.map(\.0) == MessageSummary.MessageClass.allCases)
        #expect(s.messageHeaders.count == 2)
        #expect(s.messageHeaders[0].map(\.name) == ["To", "From", "Subject"])
        #expect(s.messageHeaders[1] == [.init(name: "Message-ID", value: "12")])
        #expect(try MessageSummary(parsing: s.text) == s)
    }

    @Test func readsLeniently() throws {
        let s = try MessageSummary(parsing: "messages-waiting:NO\nvoice-message :  3 / 4  ( 0 / 1 )\nX-Unknown: ignored\n")
        #expect(!s.messagesWaiting)
        #expect(s[.voice] == .init(new: 3, old: 4, urgentNew: 0, urgentOld: 1))
        #expect(s.messageAccount == nil)
    }

    @Test(arguments: [
        "Voice-Message: 1/2\r\n",
        "Messages-Waiting: maybe\r\n",
        "Messages-Waiting: yes\r\nVoice-Message: 1\r\n",
        "Messages-Waiting: yes\r\nVoice-Message: 1/2/3\r\n",
        "Messages-Waiting: yes\r\nVoice-Message: 4294967296/0\r\n",
        "Messages-Waiting: yes\r\nVoice-Message: a/b\r\n",
        "Messages-Waiting: yes\r\nVoice-Message: 1/2 (3)\r\n",
        "Messages-Waiting: yes\r\nno colon here\r\n",
    ])
    func rejectsBadBodies(text: String) {
        #expect(throws: SIPSyntaxError.self) { try MessageSummary(parsing: text) }
    }

    @Test func writingNeverBreaksLines() {
        let s = MessageSummary(messagesWaiting: true, messageAccount: "sip:a\r\nInjected: 1", counts: [.voice: .init(new: 1, old: 0)])
        #expect(!s.text.contains("\r\nInjected"))
    }
}
