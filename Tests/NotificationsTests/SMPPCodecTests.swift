import Foundation
@testable import Notifications
import Testing
import UnifiedMessaging

@Suite struct SMPPCodecTests {
    @Test func pduRoundTripAndMalformedLengths() throws {
        let pdu = SMPPPDU(command: SMPPCommand.submitSM, status: 0, sequence: 7, body: [1, 2, 3])
        let bytes = pdu.encoded()
        #expect(bytes.prefix(16) == [0, 0, 0, 19, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7])
        #expect(try SMPPPDU(decoding: bytes) == pdu)
        #expect(throws: SMPPError.self) { try SMPPPDU(decoding: Array(bytes.prefix(15))) }
        #expect(throws: SMPPError.self) { try SMPPPDU(decoding: bytes + [9]) }
        #expect(SMPPCommand.name(SMPPCommand.response(to: SMPPCommand.submitSM)) == "submit_sm_resp")
        #expect(SMPPStatus.name(0x58) == "ESME_RTHROTTLED" && SMPPStatus.isTemporary(0x58) && !SMPPStatus.isTemporary(0x0B))
    }

    @Test func bindBody() {
        #expect(SMPPBody.bind(systemID: "mwid", password: "pw", systemType: "")
            == Array("mwid".utf8) + [0] + Array("pw".utf8) + [0, 0, 0x34, 0, 0, 0])
    }

    @Test func submitSMFieldsAndConcatenation() {
        let text = SMSText(String(repeating: "a", count: 200))
        let parts = SMPPBody.parts(of: text, reference: 0x2A)
        #expect(parts.count == 2)
        #expect(parts[0].udh && parts[0].payload.prefix(6) == [0x05, 0x00, 0x03, 0x2A, 2, 1])
        #expect(parts[1].payload.prefix(6) == [0x05, 0x00, 0x03, 0x2A, 2, 2] && parts[1].payload.count == 6 + 47)
        let body = SMPPBody.submitSM(source: "Voicemail", destination: "+33612345678", coding: .ucs2, payload: [0, 0x41], udh: true,
                                     registeredDelivery: true)
        var expected: [UInt8] = [0, 5, 0] + Array("Voicemail".utf8) + [0, 1, 1] + Array("33612345678".utf8) + [0]
        expected += [0x40, 0, 0, 0, 0, 1, 0, 8, 0, 2, 0, 0x41]
        #expect(body == expected)
        #expect(SMPPBody.addressKind("12345") == (3, 1, "12345"))
        let single = SMPPBody.parts(of: SMSText("hi"), reference: 1)
        #expect(single.count == 1 && !single[0].udh && single[0].payload == [0x68, 0x69])
    }

    @Test func deliveryReceiptsFromTextAndTLVs() throws {
        let text = Array("id:m42 sub:001 dlvrd:001 submit date:2612011200 done date:2612011201 stat:DELIVRD err:000 text:hi".utf8)
        var body: [UInt8] = [0, 1, 1] + Array("33612345678".utf8) + [0, 5, 0] + Array("Voicemail".utf8) + [0]
        body += [0x04, 0, 0, 0, 0, 0, 0, 0, 0, UInt8(text.count)] + text
        let deliver = try SMPPBody.deliver(body)
        #expect(deliver.isReceipt && deliver.source == "33612345678")
        let receipt = try #require(SMPPBody.receipt(deliver))
        #expect(receipt.messageID == "m42" && receipt.delivered && receipt.state == "DELIVRD")
        // TLVs win over the text: receipted_message_id and message_state 5 (UNDELIVERABLE).
        let tlvs: [UInt8] = [0x00, 0x1E, 0x00, 0x04] + Array("m43".utf8) + [0] + [0x04, 0x27, 0x00, 0x01, 5]
        let withTLVs = try SMPPBody.deliver(body + tlvs)
        let second = try #require(SMPPBody.receipt(withTLVs))
        #expect(second.messageID == "m43" && !second.delivered && second.state == "UNDELIV")
        // A body cut short is an error, not a crash.
        #expect(throws: SMPPError.self) { try SMPPBody.deliver(Array(body.prefix(30))) }
        #expect(throws: SMPPError.self) { try SMPPBody.deliver(Array(body.prefix(body.count - 3))) }
    }
}

@Suite struct HTTPAndSMTPPieceTests {
    @Test func urlTemplateFilledEncoded() {
        #expect(SMSURLTemplate.encode("+33 6 é&=") == "%2B33%206%20%C3%A9%26%3D")
        #expect(SMSURLTemplate.fill("http://h/s?to={to}&text={text}&x={missing}", ["to": "+336", "text": "a b"])
            == "http://h/s?to=%2B336&text=a%20b&x=")
    }

    @Test func smtpRepliesSingleAndMultiline() throws {
        var reader = SMTPReplyReader()
        #expect(try reader.feed(Array("220 mail ready\r\n250-mail\r\n250-STARTTLS\r\n".utf8)).map(\.code) == [220])
        let replies = try reader.feed(Array("250 AUTH PLAIN LOGIN\r\n".utf8))
        #expect(replies.first?.lines == ["mail", "STARTTLS", "AUTH PLAIN LOGIN"])
        #expect(throws: SMTPFailure.self) { try reader.feed(Array("hello there\r\n".utf8)) }
        // An endless reply is refused, however it is cut into reads.
        var endless = SMTPReplyReader()
        #expect(throws: SMTPFailure.self) {
            for _ in 0...SMTPReplyReader.maximumLines { _ = try endless.feed(Array("250-x\r\n".utf8)) }
        }
        var longest = SMTPReplyReader()
        let fine = try longest.feed(Array((String(repeating: "250-x\r\n", count: SMTPReplyReader.maximumLines - 1) + "250 x\r\n").utf8))
        #expect(fine.first?.lines.count == SMTPReplyReader.maximumLines)
    }

    @Test func mailCarriesTheTextAsBase64UTF8() throws {
        let mail = SMTPMessage.build(from: "vm@example.com", to: "33612345678@sms.example", text: "Message vocal de Paul à 14:05",
                                     date: Date(timeIntervalSince1970: 1_796_126_700), messageID: "x@mwid")
        #expect(mail.contains("To: <33612345678@sms.example>\r\n") && mail.contains("Date: Tue, 1 Dec 2026 12:05:00 +0000\r\n"))
        let body = try #require(mail.components(separatedBy: "\r\n\r\n").last)
        let decoded = try #require(Data(base64Encoded: body.replacingOccurrences(of: "\r\n", with: "")))
        #expect(String(decoding: decoded, as: UTF8.self) == "Message vocal de Paul à 14:05")
        #expect(mail.components(separatedBy: "\r\n").allSatisfy { $0.count <= 78 && !$0.hasPrefix(".") })
    }
}
