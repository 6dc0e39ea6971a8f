/// The header fields of a message, in order, with the names as received.
///
/// Names and values live in one byte buffer (for a parsed message, the message's own
/// copy of its bytes) and fields are ranges into it, so parsing allocates no string per
/// header; a value becomes a `String` only when someone asks for it. Lookups accept any
/// spelling of a name: case-insensitive, full or compact form.
public struct SIPHeaders: Sendable, Sequence {
    struct Field: Sendable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32
        /// Index of a known header in `SIPHeaderName.table`, or `unknown`.
        var known: UInt8

        static let unknown: UInt8 = 0xFF
        var nameRange: Range<Int> { Int(nameStart)..<Int(nameEnd) }
        var valueRange: Range<Int> { Int(valueStart)..<Int(valueEnd) }
    }

    var storage: [UInt8]
    var fields: [Field]

    public init() {
        storage = []
        fields = []
    }

    init(storage: [UInt8], fields: [Field]) {
        self.storage = storage
        self.fields = fields
    }

    public var count: Int { fields.count }
    public var isEmpty: Bool { fields.isEmpty }

    /// The name of field `i` as received.
    public func name(at i: Int) -> SIPHeaderName {
        let f = fields[i]
        let raw = string(f.nameRange)
        return f.known == Field.unknown ? SIPHeaderName(raw) : SIPHeaderName(rawName: raw, known: f.known)
    }

    /// The value of field `i`, with folding already reduced to single spaces.
    public func value(at i: Int) -> String { string(fields[i].valueRange) }

    public subscript(i: Int) -> (name: String, value: String) {
        (string(fields[i].nameRange), string(fields[i].valueRange))
    }

    public func makeIterator() -> AnyIterator<(name: String, value: String)> {
        var i = 0
        return AnyIterator {
            guard i < self.fields.count else { return nil }
            defer { i += 1 }
            return self[i]
        }
    }

    // MARK: Lookup

    func matches(_ f: Field, _ name: SIPHeaderName) -> Bool {
        if let k = name.known { return f.known == k }
        guard f.known == Field.unknown else { return false }
        return storage.withUnsafeBufferPointer { b in
            ASCII.equalsIgnoringCase(UnsafeBufferPointer(rebasing: b[f.nameRange]), name.rawName.utf8)
        }
    }

    public func firstIndex(of name: SIPHeaderName) -> Int? {
        fields.firstIndex { matches($0, name) }
    }

    public func contains(_ name: SIPHeaderName) -> Bool { firstIndex(of: name) != nil }

    /// The value of the first field of that name.
    public func first(_ name: SIPHeaderName) -> String? {
        firstIndex(of: name).map(value(at:))
    }

    /// The values of every field of that name, in order (not split at commas).
    public func values(_ name: SIPHeaderName) -> [String] {
        fields.indices.filter { matches(fields[$0], name) }.map(value(at:))
    }

    /// The elements of a list header over all its fields, split at commas outside quotes
    /// and angle brackets (`Via: a, b` and two `Via` lines give the same list).
    public func listValues(_ name: SIPHeaderName) throws(SIPSyntaxError) -> [String] {
        var out: [String] = []
        for i in fields.indices where matches(fields[i], name) {
            try withValueBytes(at: i) { (b, r) throws(SIPSyntaxError) in
                let reader = ByteReader(b)
                for part in try splitList(b, r) { out.append(reader.string(part)) }
            }
        }
        return out
    }

    /// Splits a list value at commas outside quotes and angle brackets, trimming each
    /// element (`"a, <sip:b,c>"` gives two elements).
    public static func listElements(_ value: String) throws(SIPSyntaxError) -> [String] {
        try splitList(value)
    }

    // MARK: Changes

    /// Appends a field. CR and LF in the value are replaced by spaces so that a value can
    /// never inject another header.
    public mutating func add(_ name: SIPHeaderName, _ value: String) {
        fields.append(makeField(name, value))
    }

    /// Inserts a field at position `index` (0 puts it first, as for a new top Via).
    public mutating func insert(_ name: SIPHeaderName, _ value: String, at index: Int) {
        fields.insert(makeField(name, value), at: Swift.max(0, Swift.min(index, fields.count)))
    }

    /// Replaces the first field of that name (keeping its position) and removes the
    /// others; appends when there is none.
    public mutating func set(_ name: SIPHeaderName, _ value: String) {
        if let i = firstIndex(of: name) {
            let f = makeField(name, value, spelling: string(fields[i].nameRange))
            fields[i] = f
            var j = fields.count - 1
            while j > i {
                if matches(fields[j], name) { fields.remove(at: j) }
                j -= 1
            }
        } else {
            add(name, value)
        }
    }

    public mutating func remove(_ name: SIPHeaderName) {
        let kept = fields.filter { !matches($0, name) }
        fields = kept
    }

    public mutating func remove(at index: Int) {
        fields.remove(at: index)
    }

    private mutating func makeField(_ name: SIPHeaderName, _ value: String, spelling: String? = nil) -> Field {
        let nameStart = storage.count
        storage.append(contentsOf: (spelling ?? name.rawName).utf8)
        let valueStart = storage.count
        // Copied at once, then line breaks replaced in place: appending byte by byte
        // showed in the profiles of every message mwid builds.
        storage.append(contentsOf: value.utf8)
        for i in valueStart..<storage.count where storage[i] == ASCII.cr || storage[i] == ASCII.lf { storage[i] = ASCII.space }
        return Field(
            nameStart: UInt32(nameStart), nameEnd: UInt32(valueStart),
            valueStart: UInt32(valueStart), valueEnd: UInt32(storage.count),
            known: name.known ?? Field.unknown)
    }

    // MARK: Bytes

    func string(_ r: Range<Int>) -> String {
        storage.withUnsafeBufferPointer { b in String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }
    }

    /// Runs `body` over the bytes of field `i`'s value without copying.
    func withValueBytes<R>(
        at i: Int, _ body: (UnsafeBufferPointer<UInt8>, Range<Int>) throws(SIPSyntaxError) -> R
    ) throws(SIPSyntaxError) -> R {
        let r = fields[i].valueRange
        let result: Result<R, SIPSyntaxError> = storage.withUnsafeBufferPointer { b in
            do throws(SIPSyntaxError) { return .success(try body(b, r)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses the first field of that name with `parse`; `nil` when absent.
    func parseFirst<T>(
        _ name: SIPHeaderName, _ parse: (UnsafeBufferPointer<UInt8>, Range<Int>) throws(SIPSyntaxError) -> T
    ) throws(SIPHeaderError) -> T? {
        guard let i = firstIndex(of: name) else { return nil }
        do {
            return try withValueBytes(at: i, parse)
        } catch {
            throw SIPHeaderError(header: name.canonicalName, reason: error.message)
        }
    }

    /// Parses every element of a list header with `parse`.
    func parseList<T>(
        _ name: SIPHeaderName, _ parse: (UnsafeBufferPointer<UInt8>, Range<Int>) throws(SIPSyntaxError) -> T
    ) throws(SIPHeaderError) -> [T] {
        var out: [T] = []
        do {
            for i in fields.indices where matches(fields[i], name) {
                try withValueBytes(at: i) { (b, r) throws(SIPSyntaxError) in
                    for part in try splitList(b, r) { out.append(try parse(b, part)) }
                }
            }
        } catch {
            throw SIPHeaderError(header: name.canonicalName, reason: error.message)
        }
        return out
    }
}

/// A header that is present but malformed: names the header and what is wrong.
public struct SIPHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var header: String
    public var reason: String

    public var description: String { "Malformed \(header) header: \(reason)" }
}

extension SIPHeaders: Equatable {
    /// Same fields in the same order: names compared as header names (so `v` equals
    /// `Via`), values compared exactly.
    public static func == (a: SIPHeaders, b: SIPHeaders) -> Bool {
        a.equals(b, skipping: nil)
    }

    func equals(_ other: SIPHeaders, skipping skip: UInt8?) -> Bool {
        let mine = fields.filter { $0.known != skip || skip == nil }
        let theirs = other.fields.filter { $0.known != skip || skip == nil }
        guard mine.count == theirs.count else { return false }
        for (x, y) in zip(mine, theirs) {
            guard x.known == y.known else { return false }
            if x.known == Field.unknown,
               !ASCII.equalsIgnoringCase(string(x.nameRange).utf8, other.string(y.nameRange).utf8) {
                return false
            }
            guard storage[x.valueRange].elementsEqual(other.storage[y.valueRange]) else { return false }
        }
        return true
    }
}
