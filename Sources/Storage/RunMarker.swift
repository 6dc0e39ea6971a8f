public import Foundation

/// Tells, at start, how the previous run of mwid on this data folder ended, from a file
/// (`mwid.running`) it keeps while it runs: the id of the boot it runs in.
///
/// Commits are visible, and lamps told, before the WAL is synced: a crash of mwid loses
/// nothing (the kernel still writes what it was given), but a power cut or a kernel crash
/// may lose the last commits after their NOTIFYs went out. A start that finds the file of
/// a run from an earlier boot knows that the machine stopped under mwid, and re-sends
/// every lamp.
public struct RunMarker: Sendable {
    /// How the previous run ended.
    public enum PreviousStop: String, Sendable, Equatable {
        /// Stopped cleanly (or never ran): nothing to recover.
        case clean
        /// mwid stopped without cleaning up (a crash, `kill -9`) but the machine went on:
        /// everything committed is there; pending deliveries resume as always.
        case processCrash
        /// The machine stopped (power cut, kernel crash, reboot) under mwid: the last
        /// commits, and the state the lamps were told, may be lost; every lamp is re-sent.
        case machineStop
    }

    public let path: String
    /// The current boot's id (Linux: `/proc/sys/kernel/random/boot_id`); nil where there is none.
    public let currentBoot: String?

    public init(folder: URL, currentBoot: String? = RunMarker.bootID()) {
        path = folder.appendingPathComponent("mwid.running").path
        self.currentBoot = currentBoot
    }

    /// The decision, pure: no file means a clean stop; a file of this boot, a crash of
    /// mwid alone; a file of another boot — or one that cannot be told (no boot id,
    /// an empty or unreadable file) — the machine's.
    public static func previousStop(marker: String?, currentBoot: String?) -> PreviousStop {
        guard let marker else { return .clean }
        let recorded = marker.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let currentBoot, !recorded.isEmpty, recorded == currentBoot else { return .machineStop }
        return .processCrash
    }

    /// Reads how the previous run ended, and records this one as running (synced, with
    /// its folder, so that a power cut finds it).
    public func begin() throws -> PreviousStop {
        let previous: PreviousStop
        if FileManager.default.fileExists(atPath: path) {
            previous = Self.previousStop(marker: (try? String(contentsOfFile: path, encoding: .utf8)) ?? "", currentBoot: currentBoot)
        } else {
            previous = .clean
        }
        let handle = try Self.create(path)
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(((currentBoot ?? "unknown") + "\n").utf8))
        try handle.synchronize()
        if let folder = FileHandle(forReadingAtPath: (path as NSString).deletingLastPathComponent) {
            try? folder.synchronize()
            try? folder.close()
        }
        return previous
    }

    /// This run stops cleanly.
    public func end() {
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func create(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw StorageFailure("cannot write \(path)")
        }
        return handle
    }

    public static func bootID() -> String? {
        guard let id = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return nil }
        let trimmed = id.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }
}
