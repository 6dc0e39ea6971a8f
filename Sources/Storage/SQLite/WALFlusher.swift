#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Metrics
import Synchronization

/// Makes committed transactions durable: syncs the WAL file to the disk. The group commit
/// calls it after each commit, before the commit's writes are answered.
///
/// The writer commits with `synchronous = NORMAL`: a commit is in the WAL (the kernel's page
/// cache) and visible to readers when COMMIT returns, and would survive a crash of mwid
/// but not a power cut. The MWI engine is told of it then, and may send the lamp its new
/// state while the WAL is synced here; the writes are answered once it is.
///
/// A sync that fails is reported to the writes it was for: they are not answered as
/// durable (PostgreSQL's lesson: a failed fsync cannot be retried into success).
final class WALFlusher: Sendable {
    private let walPath: String
    private let databasePath: String
    /// The WAL file kept open, with the identity of the file it is: a WAL deleted and made
    /// again is a new file, opened again.
    private struct OpenFile {
        var descriptor: Int32 = -1
        var device: UInt64 = 0
        var inode: UInt64 = 0
    }
    private let file = Mutex(OpenFile())
    private let synced = Atomic<Int>(0)
    private let syncs = Counter(label: "mwid_storage_wal_syncs_total")
    private let syncTime = Metrics.Timer(label: "mwid_storage_wal_sync_duration")

    /// `databasePath`: the database in WAL mode; its WAL is `databasePath-wal`.
    init(databasePath: String) {
        self.databasePath = databasePath
        self.walPath = databasePath + "-wal"
    }

    deinit {
        let descriptor = file.withLock { $0.descriptor }
        if descriptor >= 0 { close(descriptor) }
    }

    /// How many syncs have run (for tests and diagnostics).
    var syncCount: Int { synced.load(ordering: .relaxed) }

    /// Syncs everything committed so far: nil, or why it could not.
    func sync() -> (any Error)? {
        let start = ContinuousClock.now
        let error = syncFile()
        let elapsed = (ContinuousClock.now - start).components
        syncTime.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        syncs.increment()
        synced.add(1, ordering: .relaxed)
        return error
    }

    /// Syncs the WAL's data (`fdatasync`); with no WAL file, the database file itself.
    private func syncFile() -> (any Error)? {
        file.withLock { open in
            var current = stat()
            guard stat(walPath, &current) == 0 else {
                return errno == ENOENT ? Self.syncOnce(databasePath) : StorageFailure(Self.explain("cannot find", walPath))
            }
            if open.descriptor < 0 || open.device != UInt64(current.st_dev) || open.inode != UInt64(current.st_ino) {
                if open.descriptor >= 0 { close(open.descriptor) }
                open.descriptor = Self.openForSync(walPath)
                guard open.descriptor >= 0 else { return StorageFailure(Self.explain("cannot open", walPath)) }
                var opened = stat()
                guard fstat(open.descriptor, &opened) == 0 else { return StorageFailure(Self.explain("cannot look at", walPath)) }
                (open.device, open.inode) = (UInt64(opened.st_dev), UInt64(opened.st_ino))
            }
            return Self.dataSync(open.descriptor) ? nil : StorageFailure(Self.explain("cannot sync", walPath))
        }
    }

    private static func syncOnce(_ path: String) -> (any Error)? {
        let descriptor = openForSync(path)
        guard descriptor >= 0 else { return StorageFailure(explain("cannot open", path)) }
        defer { close(descriptor) }
        return dataSync(descriptor) ? nil : StorageFailure(explain("cannot sync", path))
    }

    private static func openForSync(_ path: String) -> Int32 {
        // Read-only is enough: a sync flushes the file, whoever wrote it.
        open(path, O_RDONLY | O_CLOEXEC)
    }

    private static func dataSync(_ descriptor: Int32) -> Bool {
        while true {
            #if canImport(Glibc)
            let result = fdatasync(descriptor)
            #else
            let result = fsync(descriptor)
            #endif
            if result == 0 { return true }
            if errno != EINTR { return false }
        }
    }

    private static func explain(_ what: String, _ path: String) -> String {
        "commits cannot be made durable: \(what) \(path): \(String(cString: strerror(errno)))"
    }
}
