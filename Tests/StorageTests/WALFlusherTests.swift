import Foundation
import Synchronization
import Testing
@testable import Storage

/// The WAL's sync, on real files.
@Suite struct WALFlusherTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-flush-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// Syncs from several threads at once, as many times: the outcomes.
    func synced(_ flusher: WALFlusher, times: Int) async -> [String?] {
        await withTaskGroup(of: String?.self) { group in
            for _ in 0..<times {
                group.addTask { flusher.sync().map { "\($0)" } }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// Every sync asked for is made and counted, whatever file the WAL is by then.
    @Test func syncsTheWALWhateverFileItIs() async throws {
        let database = folder.appendingPathComponent("mwid.sqlite").path
        #expect(FileManager.default.createFile(atPath: database, contents: Data("db".utf8)))
        #expect(FileManager.default.createFile(atPath: database + "-wal", contents: Data("wal".utf8)))
        let flusher = WALFlusher(databasePath: database)
        let outcomes = await synced(flusher, times: 50)
        #expect(outcomes.count == 50)
        #expect(outcomes.allSatisfy { $0 == nil })
        #expect(flusher.syncCount == 50)
        // A WAL deleted and made again is the new file that is synced.
        try FileManager.default.removeItem(atPath: database + "-wal")
        #expect(FileManager.default.createFile(atPath: database + "-wal", contents: Data("wal again".utf8)))
        #expect(flusher.sync() == nil)
        // No WAL at all: the database file is synced instead.
        try FileManager.default.removeItem(atPath: database + "-wal")
        #expect(flusher.sync() == nil)
        #expect(flusher.syncCount == 52)
    }

    /// A sync that cannot be made says why, naming the file (the writes waiting for it fail
    /// with that).
    @Test func aSyncThatCannotBeMadeFailsNamingTheFile() async throws {
        let missing = folder.appendingPathComponent("gone").appendingPathComponent("mwid.sqlite").path
        let outcomes = await synced(WALFlusher(databasePath: missing), times: 3)
        #expect(outcomes.count == 3)
        for outcome in outcomes {
            let message = try #require(outcome)
            #expect(message.contains("commits cannot be made durable"))
            #expect(message.contains(missing))
        }
    }
}

/// How the previous run ended, from its marker.
@Suite struct RunMarkerTests {
    @Test func theDecision() {
        #expect(RunMarker.previousStop(marker: nil, currentBoot: "b1") == .clean)
        #expect(RunMarker.previousStop(marker: "b1\n", currentBoot: "b1") == .processCrash)
        #expect(RunMarker.previousStop(marker: "b0\n", currentBoot: "b1") == .machineStop)
        // What cannot be told is taken for the worse: a lamp re-sent costs one NOTIFY.
        #expect(RunMarker.previousStop(marker: "", currentBoot: "b1") == .machineStop)
        #expect(RunMarker.previousStop(marker: "unknown", currentBoot: nil) == .machineStop)
    }

    @Test func beginRecordsTheBootAndEndRemovesIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mwid-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let run = RunMarker(folder: folder, currentBoot: "b1")
        #expect(try run.begin() == .clean)
        #expect(try String(contentsOfFile: run.path, encoding: .utf8) == "b1\n")
        #expect(try run.begin() == .processCrash)  // not ended: as after a kill -9
        #expect(try RunMarker(folder: folder, currentBoot: "b2").begin() == .machineStop)
        #expect(try String(contentsOfFile: run.path, encoding: .utf8) == "b2\n")
        run.end()
        #expect(!FileManager.default.fileExists(atPath: run.path))
        #expect(try run.begin() == .clean)
    }
}
