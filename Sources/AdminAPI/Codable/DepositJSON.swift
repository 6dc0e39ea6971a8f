import Foundation
import NIOCore
import UnifiedMessaging

/// A deposit's JSON in and out without Foundation's coders, for the bodies nearly every
/// voicemail system sends: one flat object of plain strings, integers and booleans in, a
/// stored message out. Foundation's JSON coders cost a deposit about 60 µs of the event
/// loop's time, more than the rest of its HTTP handling.
///
/// Neither side guesses: `deposit(_:)` answers only what `JSONDecoder` would decode
/// without complaint to the same value, and gives nil for anything else (escapes in a
/// string, numbers that are not plain integers, nulls, repeated or unknown fields, nested
/// values, a time, malformed JSON), which then goes through `APICoding` and gets its
/// answers and errors there. `message(_:)` writes exactly the bytes of
/// `APIResponses.body` or gives nil when a string would need escaping.
enum DepositJSON {
    /// The deposit in `body`, or nil when Foundation's decoder must judge it.
    static func deposit(_ body: ByteBuffer) -> VoiceMessageDeposit? {
        body.withUnsafeReadableBytes { bytes in
            var scanner = FlatObjectScanner(bytes)
            guard let fields = scanner.fields() else { return nil }
            var from: String?, duration: Int?, urgent: Bool?, protected: Bool?, read: Bool?, transcript: String?
            for (key, value) in fields {
                switch (key, value) {
                case ("from", .string(let text)) where from == nil: from = text
                case ("durationSeconds", .integer(let number)) where duration == nil: duration = number
                case ("urgent", .boolean(let flag)) where urgent == nil: urgent = flag
                case ("protected", .boolean(let flag)) where protected == nil: protected = flag
                case ("read", .boolean(let flag)) where read == nil: read = flag
                case ("transcript", .string(let text)) where transcript == nil: transcript = text
                default: return nil
                }
            }
            guard let from, let duration else { return nil }
            return VoiceMessageDeposit(from: from, durationSeconds: duration, urgent: urgent ?? false,
                                       protected: protected ?? false, read: read ?? false, transcript: transcript)
        }
    }

    /// `APIResponses.body(message)`'s bytes (keys sorted, a new line at the end), or nil
    /// when one of its strings holds a character JSON escapes.
    static func message(_ message: VoiceMessage, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer? {
        let time = APICoding.formatTime(message.receivedAt)
        let strings = [message.from, message.id, time] + (message.transcript.map { [$0] } ?? [])
        guard strings.allSatisfy(plain) else { return nil }
        var out = allocator.buffer(capacity: 160 + strings.reduce(0) { $0 + $1.utf8.count })
        out.writeString("{\"durationSeconds\":\(message.durationSeconds),\"from\":\"")
        out.writeString(message.from)
        out.writeString("\",\"id\":\"")
        out.writeString(message.id)
        out.writeString("\",\"protected\":\(message.protected),\"read\":\(message.read),\"receivedAt\":\"")
        out.writeString(time)
        if let transcript = message.transcript {
            out.writeString("\",\"transcript\":\"")
            out.writeString(transcript)
        }
        out.writeString("\",\"urgent\":\(message.urgent)}\n")
        return out
    }

    /// Written as it is inside JSON quotes: no quote, backslash or control character.
    private static func plain(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != 0x7F }
    }
}

/// Reads one JSON object of plain values, in order, from raw bytes: nil at the first thing
/// it does not take (see `DepositJSON`), never an error of its own.
struct FlatObjectScanner {
    enum Value: Equatable {
        case string(String)
        case integer(Int)
        case boolean(Bool)
    }

    private let bytes: UnsafeRawBufferPointer
    private var at = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func fields() -> [(String, Value)]? {
        var fields: [(String, Value)] = []
        skipSpace()
        guard take(UInt8(ascii: "{")) else { return nil }
        skipSpace()
        if take(UInt8(ascii: "}")) { return end() ? fields : nil }
        while true {
            skipSpace()
            guard let key = string() else { return nil }
            skipSpace()
            guard take(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            guard let value = value() else { return nil }
            fields.append((key, value))
            skipSpace()
            if take(UInt8(ascii: ",")) { continue }
            guard take(UInt8(ascii: "}")) else { return nil }
            return end() ? fields : nil
        }
    }

    private mutating func end() -> Bool {
        skipSpace()
        return at == bytes.count
    }

    private mutating func value() -> Value? {
        guard at < bytes.count else { return nil }
        switch bytes[at] {
        case UInt8(ascii: "\""): return string().map(Value.string)
        case UInt8(ascii: "t"): return word("true") ? .boolean(true) : nil
        case UInt8(ascii: "f"): return word("false") ? .boolean(false) : nil
        default: return integer().map(Value.integer)
        }
    }

    /// A string without escapes, valid UTF-8.
    private mutating func string() -> String? {
        guard take(UInt8(ascii: "\"")) else { return nil }
        let start = at
        while at < bytes.count {
            let byte = bytes[at]
            if byte == UInt8(ascii: "\"") {
                let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
                at += 1
                return text
            }
            guard byte >= 0x20, byte != UInt8(ascii: "\\") else { return nil }
            at += 1
        }
        return nil
    }

    /// An integer as JSON writes it (no leading zero, no fraction or exponent) that fits.
    private mutating func integer() -> Int? {
        let negative = take(UInt8(ascii: "-"))
        let start = at
        var value = 0
        while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) {
            let digit = Int(bytes[at] - UInt8(ascii: "0"))
            let (times, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            guard !overflowA, !overflowB else { return nil }
            value = sum
            at += 1
        }
        let digits = at - start
        guard digits > 0, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") || bytes[at] | 0x20 == UInt8(ascii: "e") { return nil }
        return value
    }

    private mutating func word(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - at >= count else { return false }
        for i in 0..<count where bytes[at + i] != text.utf8Start[i] { return false }
        at += count
        return true
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard at < bytes.count, bytes[at] == byte else { return false }
        at += 1
        return true
    }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x09 || bytes[at] == 0x0A || bytes[at] == 0x0D { at += 1 }
    }
}
