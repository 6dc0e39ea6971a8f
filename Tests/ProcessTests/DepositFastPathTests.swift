import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import TestSupport
import Testing

/// Deposits are answered ahead of Hummingbird's router, on the connection's event loop:
/// the answers must be the router's own, and a client that sends several requests at once
/// must get its answers in order whichever path answers each.
@Suite(.serialized) struct DepositFastPathTests {
    func provisioned(_ name: String) async throws -> RunningMWID {
        let mwid = try await RunningMWID(name)
        for step in [["dialplan", "new", "Paris", "--number-of-digits-in-extension", "4"],
                     ["policy", "new", "Default", "--dial-plan", "Paris"],
                     ["mailbox", "new", "alice@example.com", "--extension", "1234", "--dial-plan", "Paris", "--policy", "Default"]] {
            let r = try await mwid.mwictl(step)
            try #require(r.status == 0, "\(step): \(r.err)")
        }
        return mwid
    }

    /// POSTs `body` as a deposit, on a kept-alive connection (the fast path) or with
    /// `Connection: close` (which the fast path leaves to the router).
    func deposit(_ mwid: RunningMWID, _ body: String, mailbox: String = "alice%40example.com", close: Bool,
                 token: String? = nil, scheme: String = "Bearer ") async throws -> (status: UInt, headers: [String: String], body: String) {
        var request = HTTPClientRequest(url: "\(mwid.url)/api/v1/mailboxes/\(mailbox)/messages")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "\(scheme)\(token ?? mwid.token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if close { request.headers.add(name: "Connection", value: "close") }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        return (response.status.code, headers, String(buffer: bytes))
    }

    @Test func theFastPathAnswersEveryDepositAsTheRouterDoes() async throws {
        let mwid = try await provisioned("fast-deposit-answers")
        defer { mwid.stop() }
        let bodies = [
            #"{"from": "+33142685300", "durationSeconds": "twelve"}"#,
            "not json",
            "",
            #"{"durationSeconds": 12}"#,
            #"{"from": "+33142685300", "durationSeconds": -4}"#,
            #"{"from": "+33142685300", "durationSeconds": 12.5}"#,
            #"{"from": "+33142685300", "durationSeconds": 12, "colour": "red"}"#,
        ]
        let before = try await mwid.metric("mwid_http_fast_deposits_total") ?? 0
        for body in bodies {
            let fast = try await deposit(mwid, body, close: false)
            let routed = try await deposit(mwid, body, close: true)
            #expect(fast.status == 400 && fast.status == routed.status, "\(body)")
            #expect(fast.body == routed.body, "\(body): the same error, naming the same field")
            #expect(fast.headers["content-type"] == "application/json" && fast.headers["content-type"] == routed.headers["content-type"])
        }
        let unknown = (try await deposit(mwid, #"{"from": "+331", "durationSeconds": 3}"#, mailbox: "nobody", close: false),
                       try await deposit(mwid, #"{"from": "+331", "durationSeconds": 3}"#, mailbox: "nobody", close: true))
        #expect(unknown.0.status == 404 && unknown.0.body == unknown.1.body)
        // A bad token is left to the router, which refuses it (and names the scheme).
        let refused = try await deposit(mwid, #"{"from": "+331", "durationSeconds": 3}"#, close: false, token: "not-the-token")
        #expect(refused.status == 401 && refused.headers["www-authenticate"] == #"Bearer realm="mwid""#)

        let good = #"{"from": "+33142685300", "durationSeconds": 12, "urgent": true}"#
        let fast = try await deposit(mwid, good, close: false)
        let routed = try await deposit(mwid, good, close: true)
        #expect(fast.status == 201 && routed.status == 201)
        for answer in [fast, routed] {
            let message = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
            let id = try #require(message["id"] as? String)
            #expect(answer.headers["location"] == "/api/v1/mailboxes/alice@example.com/messages/\(id)")
            #expect(message["urgent"] as? Bool == true && message["durationSeconds"] as? Int == 12 && message["from"] as? String == "+33142685300")
            #expect(answer.headers["date"]?.hasSuffix(" GMT") == true && answer.headers["server"] == "mwid")
        }
        #expect(Set(fast.headers.keys) == Set(routed.headers.keys).subtracting(["connection"]), "the same headers")
        // Plain bodies are read and answered without Foundation's coders, the others with
        // them: the same answers either way, to the byte (but for the message's id).
        for body in [#"{"from":"+33142685300","durationSeconds":7,"transcript":"Zoë 😀 / à demain"}"#,
                     #"{"from":"Zo\u00eb \"Z\"","durationSeconds":7,"transcript":"line\nbreak"}"#,
                     #"{"from":"+331","durationSeconds":7,"receivedAt":"2026-11-29T08:30:00.250Z","read":true}"#] {
            let fast = try await deposit(mwid, body, close: false), routed = try await deposit(mwid, body, close: true)
            // (The two deposits may fall in different seconds: the time given, or "now".)
            func withoutID(_ answer: (status: UInt, headers: [String: String], body: String)) -> String {
                answer.body.replacingOccurrences(of: answer.headers["location"]?.split(separator: "/").last.map(String.init) ?? "-",
                                                 with: "ID")
                    .replacingOccurrences(of: #""receivedAt":"[0-9T:Z-]+""#, with: #""receivedAt":"T""#, options: .regularExpression)
            }
            #expect(fast.status == 201 && routed.status == 201, "\(body)")
            #expect(withoutID(fast) == withoutID(routed) && withoutID(fast).contains(#""id":"ID""#), "\(body)")
            #expect(withoutID(fast).contains(#""receivedAt":"T""#))
            if body.contains("receivedAt") {
                #expect(fast.body.contains(#""receivedAt":"2026-11-29T08:30:00Z""#) && routed.body.contains(#""receivedAt":"2026-11-29T08:30:00Z""#))
            }
        }
        // "bearer" in any case, blanks around the token: still the fast way.
        let lower = try await deposit(mwid, good, close: false, scheme: "bearer  ")
        #expect(lower.status == 201)
        // The kept-alive deposits (7 bad bodies, the unknown mailbox, the good ones) went the fast way.
        #expect(try await mwid.metric("mwid_http_fast_deposits_total") == before + 13)
        // Their commits are timed in buckets fine enough for latencies under a millisecond.
        let commits = try await mwid.metric("mwid_storage_commit_duration_count") ?? 0
        let all = try await mwid.metric("mwid_storage_commit_duration_bucket", #"le="+Inf""#)
        let fine = try await mwid.metric("mwid_storage_commit_duration_bucket", #"le="0.0005""#)
        #expect(commits >= 2 && all == commits)
        #expect(fine != nil, "a bucket at 0.5 ms")
        let status = try await mwid.mwictl(["mwi", "status", "alice@example.com", "--json"])
        let counts = try #require(try JSONSerialization.jsonObject(with: Data(status.out.utf8)) as? [String: Any])
        #expect(counts["urgentNew"] as? Int == 3 && counts["new"] as? Int == 7, "the good deposits, and nothing of the bad ones")
    }

    /// `halfClose`: the client ends its side once it has written everything (as `nc -N`
    /// does); it must still get every answer.
    @Test(arguments: [false, true])
    func requestsSentTogetherAreAnsweredInOrderWhicheverPathAnswersThem(halfClose: Bool) async throws {
        let mwid = try await provisioned("fast-deposit-pipelined-\(halfClose)")
        defer { mwid.stop() }
        func deposit(_ body: String, mailbox: String = "alice%40example.com") -> String {
            "POST /api/v1/mailboxes/\(mailbox)/messages HTTP/1.1\r\nHost: mwid\r\nAuthorization: Bearer \(mwid.token)\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        }
        let mwiState = "GET /api/v1/mailboxes/alice%40example.com/mwi HTTP/1.1\r\nHost: mwid\r\nAuthorization: Bearer \(mwid.token)\r\n\r\n"
        let requests = [
            deposit(#"{"from": "+331", "durationSeconds": 1}"#),
            mwiState,
            deposit(#"{"from": "+332", "durationSeconds": 2}"#),
            deposit("{"),
            deposit(#"{"from": "+333", "durationSeconds": 3}"#, mailbox: "nobody"),
            deposit(#"{"from": "+334", "durationSeconds": 4}"#),
            deposit(#"{"from": "+335", "durationSeconds": 5}"#),
            "GET /healthz HTTP/1.1\r\nHost: mwid\r\n\r\n",
            mwiState,
        ]
        let answers = try HTTPWire.exchange(port: mwid.httpPort, requests.joined(), answers: requests.count, halfClose: halfClose)
        #expect(answers.map(\.status) == [201, 200, 201, 400, 404, 201, 201, 200, 200])
        func field(_ answer: (status: Int, body: String), _ name: String) -> Int? {
            let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
            return object?[name] as? Int
        }
        try #require(answers.count == requests.count)
        #expect([0, 2, 5, 6].map { field(answers[$0], "durationSeconds") } == [1, 2, 4, 5], "each deposit's own answer, in order")
        #expect(field(answers[1], "new") == 1, "the state read after the first deposit was committed")
        #expect(field(answers[8], "new") == 4)
        #expect(answers[3].body.contains("malformed_json") && answers[4].body.contains("nobody"))
    }
}

/// HTTP/1.1 over a plain socket: several requests written at once, the answers read
/// back by their Content-Length (bounded by a deadline).
enum HTTPWire {
    static func exchange(port: Int, _ requests: String, answers count: Int, halfClose: Bool = false,
                         timeout: Double = 10) throws -> [(status: Int, body: String)] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "connect to 127.0.0.1:\(port)")
        let bytes = Array(requests.utf8)
        try #require(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == bytes.count)
        if halfClose { shutdown(fd, Int32(SHUT_WR)) }
        var received: [UInt8] = []
        var answers: [(status: Int, body: String)] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while answers.count < count, Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 200) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
            while let answer = take(&received) { answers.append(answer) }
        }
        return answers
    }

    /// One whole answer off the front of `bytes`, or nil while it is incomplete.
    private static func take(_ bytes: inout [UInt8]) -> (status: Int, body: String)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else { return nil }
        let head = String(decoding: bytes[0..<end], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first ?? 0
        guard bytes.count >= end + 4 + length else { return nil }
        let body = String(decoding: bytes[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        bytes.removeFirst(end + 4 + length)
        return (status, body)
    }
}
