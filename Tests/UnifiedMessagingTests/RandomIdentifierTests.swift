import Foundation
import Testing
@testable import UnifiedMessaging

@Suite struct RandomIdentifierTests {
    /// What Foundation would write for the same 128 bits, lower-cased.
    static func foundation(high: UInt64, low: UInt64) -> String {
        let high = high & ~0xF000 | 0x4000, low = low & ~(0xC000 << 48) | 0x8000 << 48
        let b = (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
            .uuidString.lowercased()
    }

    @Test(arguments: [(UInt64(0), UInt64(0)), (UInt64.max, UInt64.max), (0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210)])
    func bitsAreWrittenAsFoundationWritesThemWithVersionAndVariant(high: UInt64, low: UInt64) {
        let id = RandomIdentifier.uuid(high: high, low: low)
        #expect(id == Self.foundation(high: high, low: low))
        let characters = Array(id)
        #expect(characters.count == 36 && characters[14] == "4" && "89ab".contains(characters[19]))
    }

    @Test func identifiersAreRandomVersion4UUIDs() {
        let ids = (0..<10_000).map { _ in RandomIdentifier.uuid() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(100) {
            let parsed = UUID(uuidString: id)
            #expect(parsed?.uuidString.lowercased() == id)
            #expect(parsed.map { $0.uuid.6 >> 4 == 4 && $0.uuid.8 >> 6 == 2 } == true, "\(id)")
        }
    }
}
