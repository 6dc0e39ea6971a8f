import SIP

// Usage: SIPProfile [parse-notify|parse-subscribe|serialize-notify] [iterations]
let args = CommandLine.arguments
let what = args.count > 1 ? args[1] : "parse-notify"
let iterations = args.count > 2 ? Int(args[2]) ?? 100_000 : 100_000

let notify = Array("""
    NOTIFY sip:1234@pbx.example.com SIP/2.0\r
    Via: SIP/2.0/UDP mwid.example.com:5060;branch=z9hG4bK776asdhds;rport\r
    Max-Forwards: 70\r
    From: <sip:mwid@mwid.example.com>;tag=1928301774\r
    To: <sip:1234@pbx.example.com>\r
    Call-ID: a84b4c76e66710@mwid.example.com\r
    CSeq: 314159 NOTIFY\r
    Contact: <sip:mwid@mwid.example.com:5060;transport=udp>\r
    Event: message-summary\r
    Subscription-State: terminated;reason=noresource\r
    Content-Type: application/simple-message-summary\r
    User-Agent: mwid/0.1\r
    Content-Length: 92\r
    \r
    Messages-Waiting: yes\r
    Message-Account: sip:1234@pbx.example.com\r
    Voice-Message: 2/8 (1/0)\r

    """.utf8)

var sink = 0
let clock = ContinuousClock()
let start = clock.now
switch what {
case "serialize-notify":
    let m = try SIPParser.parseDatagram(notify)
    for _ in 0..<iterations { sink &+= m.serialize().count }
default:
    for _ in 0..<iterations { sink &+= try SIPParser.parseDatagram(notify).headers.count }
}
let elapsed = clock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("\(what): \(iterations) in \(seconds) s = \(Int(Double(iterations) / seconds)) /s (sink \(sink))")
