import GRDB
import Synchronization

/// Read-only connections of their own for the hot path's short reads (the delivery
/// contexts of a SUBSCRIBE, a deposit, a dispatcher batch), taken from a free list and
/// used on the calling thread.
///
/// The pool's `unsafeRead` finds a free reader by a key path over its generic items,
/// built again at every call, behind locks of its own: a tenth of a look-up's time in the
/// profiles. A connection here is a mutex's pop and push away. The connections see what
/// the pool's see: each statement reads the last committed state (WAL mode); none writes.
final class ShortReaders: Sendable {
    private let path: String
    private let configuration: Configuration
    private let idle = Mutex<[DatabaseQueue]>([])
    /// Connections kept between reads; a burst that needs more opens them and closes
    /// them afterwards.
    private let kept: Int

    init(path: String, kept: Int = 8) {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        configuration.label = "mwid.short-reader"
        configuration.prepareDatabase { db in
            try db.run(SQLiteStorage.pageCache)
        }
        self.path = path
        self.configuration = configuration
        self.kept = kept
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        let connection = try idle.withLock { $0.popLast() } ?? DatabaseQueue(path: path, configuration: configuration)
        defer { idle.withLock { if $0.count < kept { $0.append(connection) } } }
        return try connection.inDatabase(body)
    }
}
