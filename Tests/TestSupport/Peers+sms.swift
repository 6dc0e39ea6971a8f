public import Foundation

/// The SMS peers: an SMPP 3.4 SMSC (smpp34 from PyPI), Kannel with its fake SMSC, and an
/// SMTP server (aiosmtpd from PyPI). The Python ones run from the virtual environment
/// `scripts/deps test` makes in `.build-peers/venv`.
extension Peers {
    public static let peerScripts = packageRoot.appendingPathComponent("Tests/Peers")

    public static func python() throws -> String {
        let path = packageRoot.appendingPathComponent(".build-peers/venv/bin/python").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw PeerError("no Python environment for the SMS peers at \(path): run scripts/deps test")
        }
        return path
    }

    /// The SMSC simulator on 127.0.0.1:`port`; it logs JSON lines to `DIR/smsc-PORT.jsonl`.
    public static func smsc(port: Int, throttleFirst: Int = 0, quiet: Bool = false, runFor: Int = 120, in dir: URL) async throws
        -> (process: PeerProcess, log: URL)
    {
        let log = dir.appendingPathComponent("smsc-\(port).jsonl")
        var arguments = [peerScripts.appendingPathComponent("smsc_sim.py").path, "--port", "\(port)", "--run-for", "\(runFor)",
                         "--log", log.path, "--throttle-first", "\(throttleFirst)"]
        if quiet { arguments.append("--quiet") }
        let process = try PeerProcess("smsc-\(port)", try python(), arguments, in: dir, limit: runFor + 10,
                                      environment: ["PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"])
        try await waitUntilListening(port: port, udp: false, process: process)
        return (process, log)
    }

    /// The events the SMSC logged, in order (`event`/`result` keys as smsc_sim.py writes them).
    public static func smscEvents(_ log: URL) -> [[String: Any]] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Kannel: bearerbox with its fake SMSC, `fakesmsc` printing every message it gets,
    /// and smsbox serving `sendsms` on `sendsmsPort`.
    public struct Kannel: Sendable {
        public let processes: [PeerProcess]
        public let sendsmsPort: Int
        public let directory: URL
        /// What fakesmsc printed: one "Got message N: <from to text …>" line per text.
        public var received: String { (try? String(contentsOf: directory.appendingPathComponent("fakesmsc.out"), encoding: .utf8)) ?? "" }
        public func stop() { for process in processes.reversed() { process.stop() } }
    }

    public static func kannel(in dir: URL) async throws -> Kannel {
        guard let bearerbox = executable("bearerbox"), let smsbox = executable("smsbox") else {
            throw PeerError("Kannel is not installed (apt-get install kannel kannel-extras)")
        }
        let fakesmsc = "/usr/lib/kannel/test/fakesmsc"
        guard FileManager.default.isExecutableFile(atPath: fakesmsc) else { throw PeerError("fakesmsc is missing (apt-get install kannel-extras)") }
        let run = dir.appendingPathComponent("kannel")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        var ports: [Int] = []
        while ports.count < 4 {
            let port = try await freePort(udp: false)
            if !ports.contains(port) { ports.append(port) }
        }
        let (admin, box, sendsms, fake) = (ports[0], ports[1], ports[2], ports[3])
        let template = try String(contentsOf: peerScripts.appendingPathComponent("kannel.conf"), encoding: .utf8)
        let config = run.appendingPathComponent("kannel.conf")
        try template.replacingOccurrences(of: "@RUN@", with: run.path).replacingOccurrences(of: "@ADMIN@", with: "\(admin)")
            .replacingOccurrences(of: "@BOX@", with: "\(box)").replacingOccurrences(of: "@SENDSMS@", with: "\(sendsms)")
            .replacingOccurrences(of: "@FAKE@", with: "\(fake)").write(to: config, atomically: true, encoding: .utf8)
        var started: [PeerProcess] = []
        do {
            started.append(try PeerProcess("bearerbox", bearerbox, ["-v", "1", config.path], in: run, limit: 180))
            try await waitUntilListening(port: box, udp: false, process: started[0])
            try await waitUntilListening(port: fake, udp: false, process: started[0])
            // Receive-only: -m 0 sends nothing and prints every message it is given (at debug level, hence -v 0).
            started.append(try PeerProcess("fakesmsc", fakesmsc, ["-H", "127.0.0.1", "-r", "\(fake)", "-m", "0", "-v", "0",
                                                                  "12345 67890 text unused"], in: run, limit: 180))
            started.append(try PeerProcess("smsbox", smsbox, ["-v", "1", config.path], in: run, limit: 180))
            try await waitUntilListening(port: sendsms, udp: false)
        } catch {
            for process in started.reversed() { process.stop() }
            throw error
        }
        return Kannel(processes: started, sendsmsPort: sendsms, directory: run)
    }

    /// aiosmtpd on 127.0.0.1:`port` storing every message in `DIR/maildir-PORT/new`,
    /// offering STARTTLS with `pki`'s certificate when given; taking at most
    /// `messagesPerSession` messages on one connection when given (Tests/Peers/smtp_limited.py:
    /// MAIL FROM is then answered 452).
    public static func smtpServer(port: Int, pki: TestPKI? = nil, messagesPerSession: Int? = nil,
                                  in dir: URL) async throws -> (process: PeerProcess, maildir: URL) {
        let maildir = dir.appendingPathComponent("maildir-\(port)")
        for sub in ["tmp", "new", "cur"] {
            try FileManager.default.createDirectory(at: maildir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        var arguments = ["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)"]
        if let pki { arguments += ["--tlscert", pki.certificateFile, "--tlskey", pki.keyFile, "--no-requiretls"] }
        var environment = ["PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"]
        if let messagesPerSession {
            arguments += ["-c", "smtp_limited.SessionLimited", maildir.path]
            environment["PYTHONPATH"] = peerScripts.path
            environment["SMTP_MESSAGES_PER_SESSION"] = "\(messagesPerSession)"
        } else {
            arguments += ["-c", "aiosmtpd.handlers.Mailbox", maildir.path]
        }
        let process = try PeerProcess("smtp-\(port)", try python(), arguments, in: dir, limit: 120, environment: environment)
        try await waitUntilListening(port: port, udp: false, process: process)
        return (process, maildir)
    }

    /// The messages in a maildir's `new`, oldest first, as text.
    public static func mails(_ maildir: URL) -> [String] {
        let folder = maildir.appendingPathComponent("new")
        // Python's Maildir names a message "SECONDS.M<microseconds>P<pid>Q<count>.HOST" with
        // no zero padding: sorting the names as text puts M99999 after M123456 in one second.
        func order(_ name: String) -> [Int] {
            let parts = name.split(whereSeparator: { "." == $0 || "M" == $0 || "P" == $0 || "Q" == $0 })
            return parts.prefix(4).map { Int($0) ?? 0 }
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .sorted { order($0) == order($1) ? $0 < $1 : order($0).lexicographicallyPrecedes(order($1)) }
        return names.compactMap { try? String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8) }
    }

    /// A mail's body, base64-decoded when it says so.
    public static func mailBody(_ mail: String) -> String {
        let normalized = mail.replacingOccurrences(of: "\r\n", with: "\n")
        guard let split = normalized.range(of: "\n\n") else { return "" }
        let headers = normalized[..<split.lowerBound].lowercased(), body = String(normalized[split.upperBound...])
        if headers.contains("content-transfer-encoding: base64"),
           let data = Data(base64Encoded: body.replacingOccurrences(of: "\n", with: "")) {
            return String(decoding: data, as: UTF8.self)
        }
        return body
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes (then false).
    public static func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }
}
