import Benchmark
import BenchmarkSamples
import SIP

let notify = Samples.notify
let subscribe = Samples.subscribe

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .mallocCountTotal, .instructions],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )

    Benchmark("Parse NOTIFY (\(notify.count) B)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SIPParser.parseDatagram(notify))
        }
    }

    Benchmark("Parse SUBSCRIBE (\(subscribe.count) B)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try SIPParser.parseDatagram(subscribe))
        }
    }

    Benchmark("Serialize NOTIFY") { benchmark in
        let message = try SIPParser.parseDatagram(notify)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(message.serialize())
        }
    }

    Benchmark("Serialize SUBSCRIBE") { benchmark in
        let message = try SIPParser.parseDatagram(subscribe)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(message.serialize())
        }
    }

    Benchmark("Build + serialize NOTIFY") { benchmark in
        let summary = MessageSummary(voice: .init(new: 2, old: 8, urgentNew: 1, urgentOld: 0), messageAccount: "sip:1234@pbx.example.com")
        let via = SIPVia(transport: "UDP", host: "mwid.example.com", port: 5060, branch: "z9hG4bK776asdhds")
        let from = SIPNameAddress(uri: SIPURI(user: "mwid", host: "mwid.example.com"), parameters: [("tag", "1928301774")])
        let to = SIPNameAddress(uri: SIPURI(user: "1234", host: "pbx.example.com"))
        let uri = SIPURI(user: "1234", host: "pbx.example.com")
        let body = summary.bytes
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let m = SIPMessage.request(
                method: .notify, uri: uri, via: via, from: from, to: to, callID: "a84b4c76e66710@mwid.example.com", cseq: 1,
                headers: [(.event, "message-summary"), (.subscriptionState, "terminated;reason=noresource")],
                contentType: .simpleMessageSummary, body: body)
            blackHole(m.serialize())
        }
    }

    Benchmark("Parse + typed From/To/Via/CSeq of SUBSCRIBE") { benchmark in
        for _ in benchmark.scaledIterations {
            let m = try SIPParser.parseDatagram(subscribe)
            blackHole(try m.from())
            blackHole(try m.to())
            blackHole(try m.topVia())
            blackHole(try m.cseq())
        }
    }
}
