public import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Starts real peer programs (SIPp, stunnel) for a test and stops them afterwards.
/// Every run is bounded by a timeout; nothing is left running.
public final class PeerProcess: @unchecked Sendable {
    public let process = Process()
    public let name: String
    public let directory: URL
    public let output: URL

    /// Runs `executable` under `timeout(1)`, so that even a peer orphaned by a crashed test
    /// run ends by itself after `limit` seconds.
    public init(_ name: String, _ executable: String, _ arguments: [String], in directory: URL, limit: Int = 60,
                environment: [String: String]? = nil) throws {
        self.name = name
        self.directory = directory
        output = directory.appendingPathComponent("\(name).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", "\(limit)", executable] + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        if let environment { process.environment = environment }
        try Self.start(process)
    }

    /// Starts `process` from a thread of its own whose signal mask is empty. A child
    /// inherits the signal mask of the thread that spawns it, and the test run's pool
    /// threads block SIGTERM: a peer spawned from one of them never saw the SIGTERM of
    /// `stop()`, which then waited out its 5 s grace on a pool thread (of which a 2-core
    /// machine has two), starving every other test for seconds at a time.
    public static func start(_ process: Process) throws {
        let outcome = Mutex<Result<Void, any Error>?>(nil)
        let started = DispatchSemaphore(value: 0)
        let box = UncheckedBox(process)
        let thread = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            let result = Result { try box.value.run() }
            outcome.withLock { $0 = result }
            started.signal()
        }
        thread.start()
        started.wait()  // as long as a fork and exec
        try outcome.withLock { $0 }?.get()
    }

    /// Waits for the process to exit by itself (bounded) and returns its status.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                stop()
                return nil
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Ends the peer (the child of `timeout`) with `signal` and waits until it has exited
    /// (5 s for the signal, then SIGKILL), so that its status can be read. SIPp, stunnel and
    /// dnsmasq all end on SIGTERM within milliseconds, open connections or not, since `start`
    /// gives them an empty signal mask (before that, stunnel and dnsmasq looked as if they
    /// ignored it and were sent SIGKILL).
    public func stop(signal: String = "TERM") {
        guard process.isRunning else { return }
        signalChildren(signal)
        for _ in 0..<500 where process.isRunning { usleep(10_000) }
        if process.isRunning {
            // The peer ignored the signal: kill it first, then timeout(1) — killing only
            // timeout(1) would leave the peer running, orphaned.
            signalChildren("KILL")
            for _ in 0..<100 where process.isRunning { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            // SIGKILL cannot be ignored: this wait is short. Reading the status of a
            // process still running would trap and take the whole test run with it.
            process.waitUntilExit()
        }
    }

    private func signalChildren(_ signal: String) {
        let pkill = Process()
        pkill.executableURL = URL(fileURLWithPath: "/usr/bin/pkill")
        pkill.arguments = ["-\(signal)", "-P", "\(process.processIdentifier)"]
        try? Self.start(pkill)
        pkill.waitUntilExit()
    }

    public var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// The last 40 lines of what the peer printed.
    public var logTail: String { log.split(separator: "\n", omittingEmptySubsequences: false).suffix(40).joined(separator: "\n") }

    deinit { stop() }
}

public enum Peers {
    /// The package's root folder (for built binaries and SIPp scenarios).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let scenarios = packageRoot.appendingPathComponent("Tests/SIPTransportTests/Scenarios")

    public static func workDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    public static func executable(_ name: String) -> String? {
        for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return nil
    }

    /// A SIPp instance on 127.0.0.1:`port` running `scenario` — a file of `scenarios`, or
    /// a path — as a UAS when `remote` is nil, else as a UAC calling `service` at `remote`.
    /// Its messages go to `DIR/NAME.msg`, where NAME is the scenario's file name.
    public static func sipp(_ scenario: String, port: Int, transport: String, remote: String? = nil, service: String = "1234",
                            calls: Int = 1, extra: [String] = [], in dir: URL) throws -> PeerProcess {
        guard let sipp = executable("sipp") else { throw PeerError("sipp is not installed (apt-get install sip-tester)") }
        let file = scenario.contains("/") ? URL(fileURLWithPath: scenario) : scenarios.appendingPathComponent(scenario)
        let name = file.lastPathComponent
        var args = ["-sf", file.path, "-i", "127.0.0.1", "-p", "\(port)",
                    "-t", transport, "-m", "\(calls)", "-nostdin", "-timeout", "20s", "-timeout_error",
                    "-trace_msg", "-message_file", dir.appendingPathComponent("\(name).msg").path,
                    "-trace_logs", "-log_file", dir.appendingPathComponent("\(name).log").path]
        if let remote { args += ["-s", service, remote] }
        return try PeerProcess("sipp-\(name)", sipp, args + extra, in: dir)
    }

    /// The SIP messages SIPp logged with `-trace_msg`, in order, each as its text (lines
    /// joined by "\n", without their "\r").
    public static func sippMessages(_ file: URL) -> [String] {
        let text = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").replacingOccurrences(of: "\r", with: "")
        var blocks: [[String]] = []
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("----------") { blocks.append([]) } else if !blocks.isEmpty { blocks[blocks.count - 1].append(line) }
        }
        return blocks.compactMap { lines in
            guard let start = lines.firstIndex(where: { $0.hasPrefix("SIP/2.0 ") || $0.hasSuffix(" SIP/2.0") }) else { return nil }
            return lines[start...].joined(separator: "\n")
        }
    }

    /// Waits until something listens on 127.0.0.1:`port` (read from /proc/net), bounded.
    /// Given the `process` meant to listen there, fails as soon as it has exited, and either
    /// failure carries the end of what it printed: a peer that could not start says why.
    public static func waitUntilListening(port: Int, udp: Bool, timeout: Duration = .seconds(30),
                                          process: PeerProcess? = nil) async throws {
        let started = ContinuousClock.now
        let deadline = started + timeout
        let hexPort = String(format: ":%04X", port)
        let table = udp ? "/proc/net/udp" : "/proc/net/tcp"
        // The port is looked at once more after the deadline: a wait that was itself kept
        // from running (a loaded machine) must not fail a server that listened meanwhile.
        while true {
            let late = ContinuousClock.now >= deadline
            // Read to the end: String(contentsOfFile:) stops after the first page of a /proc
            // file, and with many sockets open the port's line is further down.
            let data = FileHandle(forReadingAtPath: table)?.readDataToEndOfFile() ?? Data()
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let cols = line.split(separator: " ")
                guard cols.count > 3, cols[1].hasSuffix(hexPort) else { continue }
                if udp || cols[3] == "0A" { return }
            }
            if late { break }
            if let process, !process.process.isRunning {
                throw PeerError("\(process.name) exited with status \(process.process.terminationStatus) after "
                                + "\(ContinuousClock.now - started) without listening on port \(port); it printed:\n\(process.logTail)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let printed = process.map { "; \($0.name) (running: \($0.process.isRunning)) printed:\n\($0.logTail)" } ?? ""
        throw PeerError("nothing listens on port \(port) after \(timeout)\(printed)")
    }

    /// A port that was free a moment ago, below the kernel's ephemeral range (32768–60999
    /// here), so that no socket bound to port 0 — another test's, or an outbound
    /// connection's — can take it before the peer binds it. Never the same port twice in
    /// one test run: tests run in parallel, and two of them given one port a moment apart
    /// would both find it free, then one peer could not bind it.
    public static func freePort(udp: Bool) async throws -> Int {
        for _ in 0..<200 {
            guard let port = unissuedPort() else { continue }
            if await isFree(port, udp: udp) { return port }
        }
        throw PeerError("no free port found below the ephemeral range")
    }

    /// A port free for both UDP and TCP.
    public static func freePortBoth() async throws -> Int {
        for _ in 0..<200 {
            guard let port = unissuedPort() else { continue }
            if await isFree(port, udp: true), await isFree(port, udp: false) { return port }
        }
        throw PeerError("no port free for UDP and TCP")
    }

    private static let issued = Mutex<Set<Int>>([])

    /// A random candidate port not handed out before in this process (nil when the draw
    /// repeats one).
    private static func unissuedPort() -> Int? {
        let port = Int.random(in: 20_000..<32_000)
        return issued.withLock { $0.insert(port).inserted } ? port : nil
    }

    private static func isFree(_ port: Int, udp: Bool) async -> Bool {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel: (any Channel)? = udp
            ? try? await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: port).get()
            : try? await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: port).get()
        guard let channel else { return false }
        try? await channel.close()
        return true
    }
}

/// A value handed to another thread that the compiler cannot prove safe to share (here a
/// `Process`, used by one thread at a time).
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

public struct PeerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
