#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Random numbers from the system's cryptographic source, read 512 bytes at a time
/// instead of one system call per number: identifiers (branches, tags, Call-IDs) are
/// drawn thousands of times a second. A value type: each owner (an event loop, a
/// delivery) keeps its own.
public struct BufferedSystemRandom: RandomNumberGenerator, Sendable {
    private var buffer: [UInt64] = []
    private var position = 0

    public init() {}

    public mutating func next() -> UInt64 {
        if position == buffer.count { refill() }
        defer { position += 1 }
        return buffer[position]
    }

    private mutating func refill() {
        var fresh = [UInt64](repeating: 0, count: 64)
        #if canImport(Glibc)
        let filled = fresh.withUnsafeMutableBytes { raw -> Bool in
            guard let base = raw.baseAddress else { return false }
            var done = 0
            while done < raw.count {
                // getentropy(3): at most 256 bytes a call, from the kernel's CSPRNG.
                let n = min(256, raw.count - done)
                if getentropy(base + done, n) != 0 { return false }
                done += n
            }
            return true
        }
        #else
        let filled = false
        #endif
        if !filled {
            var system = SystemRandomNumberGenerator()
            for i in fresh.indices { fresh[i] = system.next() }
        }
        buffer = fresh
        position = 0
    }
}

/// One buffered generator for the whole process, behind a lock, for callers that keep
/// none of their own (a tag for a refusal, a nonce for a challenge): a lock taken without
/// contention costs far less than the system call of `SystemRandomNumberGenerator`.
public struct SharedSystemRandom: RandomNumberGenerator, Sendable {
    private static let generator = Mutex(BufferedSystemRandom())

    public init() {}

    public mutating func next() -> UInt64 { Self.generator.withLock { $0.next() } }
}
