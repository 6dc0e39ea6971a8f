import AsyncHTTPClient
import Foundation
import TestSupport
import Testing

/// The built `mwid`, started on free loopback ports in a folder of its own, as an
/// administrator starts it; stopped (bounded) by the test.
final class RunningMWID: Sendable {
    static let binary = Peers.packageRoot.appendingPathComponent(".build/debug/mwid").path
    static let mwictl = Peers.packageRoot.appendingPathComponent(".build/debug/mwictl").path

    let process: PeerProcess
    let directory: URL
    let httpPort: Int
    let sipPort: Int

    var url: String { "http://127.0.0.1:\(httpPort)" }
    var dataDirectory: URL { directory.appendingPathComponent("mwid-data") }
    var token: String {
        ((try? String(contentsOf: dataDirectory.appendingPathComponent("admin.token"), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts mwid with `arguments` added to its listeners; waits until HTTP answers.
    ///
    /// A port found free can be taken by another program before mwid binds it (the peers
    /// of tests running alongside bind ports of their own choosing): mwid then exits with
    /// "address already in use", and is started again on other ports, twice at most.
    init(_ name: String, in directory: URL? = nil, arguments: [String] = []) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build mwid first (scripts/test does)")
        let directory = try directory ?? Peers.workDirectory(name)
        self.directory = directory
        var attempt = 1
        while true {
            let http = try await Peers.freePort(udp: false)
            let sip = try await Peers.freePortBoth()
            let started = try PeerProcess(name, Self.binary,
                                          ["--http", "127.0.0.1:\(http)", "--sip-udp", "127.0.0.1:\(sip)",
                                           "--sip-tcp", "127.0.0.1:\(sip)"] + arguments,
                                          in: directory, limit: 120)
            do {
                try await Peers.waitUntilListening(port: http, udp: false, timeout: .seconds(60), process: started)
                (httpPort, sipPort, process) = (http, sip, started)
                return
            } catch where attempt < 3 && !started.process.isRunning && started.log.contains("address already in use") {
                attempt += 1
            }
        }
    }

    func stop(signal: String = "TERM") { process.stop(signal: signal) }

    /// Runs the built mwictl against this server; returns its exit status, stdout and stderr.
    func mwictl(_ arguments: [String], environment extra: [String: String] = [:], in folder: URL? = nil) async throws
        -> (status: Int32, out: String, err: String)
    {
        try #require(FileManager.default.isExecutableFile(atPath: Self.mwictl), "build mwictl first (scripts/test does)")
        var environment = ProcessInfo.processInfo.environment
        environment["MWID_URL"] = url
        environment["MWID_TOKEN"] = token
        for (key, value) in extra { environment[key] = value }
        environment = environment.filter { !$0.value.isEmpty }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.mwictl)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = folder ?? directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try PeerProcess.start(process)
        // Read both pipes to the end before waiting, so a large output cannot block the child;
        // on Dispatch's threads, not the test run's pool (two threads on two cores).
        async let outData = Self.readToEnd(out)
        async let errData = Self.readToEnd(err)
        let (o, e) = await (outData, errData)
        process.waitUntilExit()  // its output has ended: it has exited, or is about to
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    static func readToEnd(_ pipe: Pipe) async -> Data {
        await withCheckedContinuation { done in
            DispatchQueue.global().async { done.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile()) }
        }
    }

    /// The samples of metric `name` in `/metrics` that carry every one of `labels`
    /// (`key="value"`), summed; nil when there are none.
    func metric(_ name: String, _ labels: String...) async throws -> Double? {
        let response = try await HTTPClient.shared.get(url: "\(url)/metrics").get()
        let text = response.body.map { String(buffer: $0) } ?? ""
        let values = text.split(separator: "\n").filter { line in
            (line.hasPrefix(name + "{") || line.hasPrefix(name + " ")) && labels.allSatisfy { line.contains($0) }
        }.compactMap { line in
            line.split(separator: " ").last.flatMap { Double($0) }
        }
        return values.isEmpty ? nil : values.reduce(0, +)
    }

    deinit { process.stop(signal: "KILL") }
}
