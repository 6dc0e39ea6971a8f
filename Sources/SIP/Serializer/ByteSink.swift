#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the serializer's bytes go. A message is written twice: once into a
/// `ByteCounter` for its exact size, then into a `ByteWriter` over an array of that size,
/// allocated once: no growth, no per-append capacity or uniqueness checks.
protocol ByteSink {
    mutating func append(_ byte: UInt8)
    mutating func append(_ bytes: UnsafeRawBufferPointer)
}

extension ByteSink {
    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) { append(UnsafeRawBufferPointer(bytes)) }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always)
    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// `value` in decimal.
    mutating func appendDecimal(_ value: Int) {
        if value >= 0 && value < 10 {
            append(UInt8(48 + value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for any Int
        var v = value.magnitude
        var n = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                n += 1
                d[24 - n] = UInt8(48 + v % 10)
                v /= 10
            }
            if value < 0 { append(ASCII.minus) }
            append(UnsafeRawBufferPointer(rebasing: d[(24 - n)...]))
        }
    }
}

/// Counts what would be written.
struct ByteCounter: ByteSink {
    var count = 0
    @inline(__always) mutating func append(_ byte: UInt8) { count += 1 }
    @inline(__always) mutating func append(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
}

/// Writes into memory counted beforehand (the caller guarantees the room).
struct ByteWriter: ByteSink {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0

    @inline(__always) mutating func append(_ byte: UInt8) {
        precondition(count < capacity, "serializer wrote past its count")
        base[count] = byte
        count += 1
    }

    @inline(__always) mutating func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(count + bytes.count <= capacity, "serializer wrote past its count")
        if let source = bytes.baseAddress, !bytes.isEmpty { memcpy(base + count, source, bytes.count) }
        count += bytes.count
    }
}

extension Array: ByteSink where Element == UInt8 {
    @inline(__always) mutating func append(_ bytes: UnsafeRawBufferPointer) { append(contentsOf: bytes) }
}
