@testable import SIP

/// Turns the LF line ends of a test literal into CRLF.
func crlf(_ s: String) -> String {
    s.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n")
}

/// Parses CRLF-converted text as a datagram.
func parse(_ text: String, limits: SIPParser.Limits = .default) throws(SIPParseError) -> SIPMessage {
    try SIPParser.parse(crlf(text), limits: limits)
}

/// Expects a parse failure and returns it.
func parseError(_ text: String, convert: Bool = true, limits: SIPParser.Limits = .default) -> SIPParseError? {
    do {
        _ = try SIPParser.parse(convert ? crlf(text) : text, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// SplitMix64: a small, seedable generator so property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A typical unsolicited MWI NOTIFY (about 500 bytes).
let sampleNotify = crlf("""
NOTIFY sip:1234@pbx.example.com SIP/2.0
Via: SIP/2.0/UDP mwid.example.com:5060;branch=z9hG4bK776asdhds;rport
Max-Forwards: 70
From: <sip:mwid@mwid.example.com>;tag=1928301774
To: <sip:1234@pbx.example.com>
Call-ID: a84b4c76e66710@mwid.example.com
CSeq: 314159 NOTIFY
Contact: <sip:mwid@mwid.example.com:5060;transport=udp>
Event: message-summary
Subscription-State: terminated;reason=noresource
Content-Type: application/simple-message-summary
Content-Length: 92

Messages-Waiting: yes
Message-Account: sip:1234@pbx.example.com
Voice-Message: 2/8 (1/0)

""")
