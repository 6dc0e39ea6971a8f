import BenchmarkSamples
import SIP

// Usage: SIPProfile [parse-notify|parse-subscribe|serialize-notify] [iterations]
let args = CommandLine.arguments
let what = args.count > 1 ? args[1] : "parse-notify"
let iterations = args.count > 2 ? Int(args[2]) ?? 100_000 : 100_000

let notify = Samples.notify

var sink = 0
let clock = ContinuousClock()
let start = clock.now
switch what {
case "parse-subscribe":
    for _ in 0..<iterations { sink &+= try SIPParser.parseDatagram(Samples.subscribe).headers.count }
case "serialize-notify":
    let m = try SIPParser.parseDatagram(notify)
    for _ in 0..<iterations { sink &+= m.serialize().count }
default:
    for _ in 0..<iterations { sink &+= try SIPParser.parseDatagram(notify).headers.count }
}
let elapsed = clock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("\(what): \(iterations) in \(seconds) s = \(Int(Double(iterations) / seconds)) /s (sink \(sink))")
