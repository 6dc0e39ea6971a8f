/// The answer section of a DNS response (RFC 1035 §4.1), read for the three record types
/// a SIP peer's resolution needs: SRV (RFC 2782), A and AAAA. Other records are skipped.
/// Pure and bounded: names are followed through at most 32 compression pointers and may
/// not exceed 255 bytes; anything malformed is an error, never a trap.
struct DNSAnswer: Equatable {
    enum Record: Equatable {
        case srv(SRVRecord)
        /// 4 bytes.
        case a([UInt8])
        /// 16 bytes.
        case aaaa([UInt8])
    }

    struct Entry: Equatable {
        /// Lowercased, without the final dot.
        var name: String
        /// Seconds.
        var ttl: UInt32
        var record: Record
    }

    static let typeA: Int32 = 1
    static let typeAAAA: Int32 = 28
    static let typeSRV: Int32 = 33

    var entries: [Entry]

    var srvRecords: [SRVRecord] {
        entries.compactMap { if case .srv(let srv) = $0.record { srv } else { nil } }
    }

    /// The smallest TTL of the records kept (nil when there are none).
    var ttl: UInt32? { entries.map(\.ttl).min() }

    struct ParseError: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    init(entries: [Entry]) {
        self.entries = entries
    }

    init(parsing bytes: [UInt8]) throws(ParseError) {
        var reader = Reader(bytes: bytes)
        _ = try reader.u16()  // id
        _ = try reader.u16()  // flags
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()  // authority
        _ = try reader.u16()  // additional
        for _ in 0..<questions {
            _ = try reader.name()
            try reader.skip(4)  // type, class
        }
        var entries: [Entry] = []
        for _ in 0..<answers {
            let name = try reader.name()
            let type = try reader.u16()
            let dnsClass = try reader.u16()
            let ttl = try reader.u32()
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw ParseError(description: "record data runs past the answer") }
            if dnsClass == 1 {
                switch Int32(type) {
                case Self.typeA where length == 4:
                    entries.append(Entry(name: name, ttl: ttl, record: .a(Array(bytes[reader.offset..<end]))))
                case Self.typeAAAA where length == 16:
                    entries.append(Entry(name: name, ttl: ttl, record: .aaaa(Array(bytes[reader.offset..<end]))))
                case Self.typeSRV where length >= 7:
                    var data = reader
                    let priority = try data.u16()
                    let weight = try data.u16()
                    let port = try data.u16()
                    let target = try data.name()
                    guard data.offset == end else { throw ParseError(description: "SRV record of the wrong length") }
                    entries.append(Entry(name: name, ttl: ttl,
                                         record: .srv(SRVRecord(priority: priority, weight: weight, port: port, target: target))))
                case Self.typeA, Self.typeAAAA, Self.typeSRV:
                    throw ParseError(description: "record of type \(type) has \(length) bytes of data")
                default:
                    break  // CNAME and others: the resolver's answer already follows them
                }
            }
            reader.offset = end
        }
        self.entries = entries
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() throws(ParseError) -> UInt16 {
            guard offset + 2 <= bytes.count else { throw ParseError(description: "answer cut short") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func u32() throws(ParseError) -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        mutating func skip(_ count: Int) throws(ParseError) {
            guard offset + count <= bytes.count else { throw ParseError(description: "answer cut short") }
            offset += count
        }

        /// A domain name at the current offset (following compression pointers), which
        /// the reader moves past.
        mutating func name() throws(ParseError) -> String {
            var labels: [String] = []
            var position = offset
            var jumps = 0
            var length = 0
            var resume: Int?
            while true {
                guard position < bytes.count else { throw ParseError(description: "name cut short") }
                let first = bytes[position]
                if first == 0 {
                    position += 1
                    break
                }
                switch first & 0xC0 {
                case 0xC0:
                    guard position + 1 < bytes.count else { throw ParseError(description: "name cut short") }
                    jumps += 1
                    guard jumps <= 32 else { throw ParseError(description: "name compression loops") }
                    if resume == nil { resume = position + 2 }
                    position = Int(first & 0x3F) << 8 | Int(bytes[position + 1])
                case 0:
                    let count = Int(first)
                    guard position + 1 + count <= bytes.count else { throw ParseError(description: "label cut short") }
                    length += count + 1
                    guard length <= 255 else { throw ParseError(description: "name longer than 255 bytes") }
                    let label = bytes[(position + 1)..<(position + 1 + count)].map { byte -> UInt8 in
                        (65...90).contains(byte) ? byte + 32 : byte
                    }
                    labels.append(String(decoding: label, as: UTF8.self))
                    position += 1 + count
                default:
                    throw ParseError(description: "unknown label type")
                }
            }
            offset = resume ?? position
            return labels.joined(separator: ".")
        }
    }
}

/// A service location record (RFC 2782).
struct SRVRecord: Equatable {
    var priority: UInt16
    var weight: UInt16
    var port: UInt16
    /// "" (the root) means the service is decidedly not available at this domain.
    var target: String
}
