public import UnifiedMessaging

/// One SMPP 3.4 protocol data unit: the 16-byte header (length, command, status,
/// sequence) and the body as bytes. Encoding and decoding are pure.
public struct SMPPPDU: Sendable, Hashable {
    public var command: UInt32
    public var status: UInt32
    public var sequence: UInt32
    public var body: [UInt8]

    public init(command: UInt32, status: UInt32 = 0, sequence: UInt32, body: [UInt8] = []) {
        self.command = command
        self.status = status
        self.sequence = sequence
        self.body = body
    }

    /// The largest PDU read from an SMSC (a deliver_sm with a long receipt is well below).
    public static let maximumLength = 64 * 1024

    public var isResponse: Bool { command & 0x8000_0000 != 0 }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(16 + body.count)
        for value in [UInt32(16 + body.count), command, status, sequence] {
            out.append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
        }
        out.append(contentsOf: body)
        return out
    }

    /// A PDU from its full bytes (header included), or why not.
    public init(decoding bytes: [UInt8]) throws(SMPPError) {
        guard bytes.count >= 16 else { throw .malformed("a PDU is at least 16 bytes (got \(bytes.count))") }
        func word(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
        }
        guard Int(word(0)) == bytes.count else { throw .malformed("command_length \(word(0)) does not match \(bytes.count) bytes") }
        command = word(4)
        status = word(8)
        sequence = word(12)
        body = Array(bytes[16...])
    }
}

public enum SMPPCommand {
    public static let bindReceiver: UInt32 = 0x0000_0001
    public static let bindTransmitter: UInt32 = 0x0000_0002
    public static let submitSM: UInt32 = 0x0000_0004
    public static let deliverSM: UInt32 = 0x0000_0005
    public static let unbind: UInt32 = 0x0000_0006
    public static let bindTransceiver: UInt32 = 0x0000_0009
    public static let outbind: UInt32 = 0x0000_000B
    public static let enquireLink: UInt32 = 0x0000_0015
    public static let alertNotification: UInt32 = 0x0000_0102
    public static let dataSM: UInt32 = 0x0000_0103
    public static let genericNack: UInt32 = 0x8000_0000

    public static func response(to command: UInt32) -> UInt32 { command | 0x8000_0000 }

    public static func name(_ command: UInt32) -> String {
        switch command {
        case bindReceiver: "bind_receiver"
        case bindTransmitter: "bind_transmitter"
        case submitSM: "submit_sm"
        case deliverSM: "deliver_sm"
        case unbind: "unbind"
        case bindTransceiver: "bind_transceiver"
        case outbind: "outbind"
        case enquireLink: "enquire_link"
        case alertNotification: "alert_notification"
        case dataSM: "data_sm"
        case genericNack: "generic_nack"
        default: command & 0x8000_0000 != 0 ? name(command & 0x7FFF_FFFF) + "_resp" : String(format0x: command)
        }
    }
}

/// Command statuses (SMPP 3.4 §5.1.3) mwid names or acts on.
public enum SMPPStatus {
    public static let ok: UInt32 = 0x00
    public static let invalidMessageLength: UInt32 = 0x01
    public static let invalidCommandLength: UInt32 = 0x02
    public static let invalidCommandID: UInt32 = 0x03
    public static let incorrectBindStatus: UInt32 = 0x04
    public static let alreadyBound: UInt32 = 0x05
    public static let systemError: UInt32 = 0x08
    public static let invalidSourceAddress: UInt32 = 0x0A
    public static let invalidDestinationAddress: UInt32 = 0x0B
    public static let bindFailed: UInt32 = 0x0D
    public static let invalidPassword: UInt32 = 0x0E
    public static let invalidSystemID: UInt32 = 0x0F
    public static let messageQueueFull: UInt32 = 0x14
    public static let submitFailed: UInt32 = 0x45
    public static let throttled: UInt32 = 0x58
    public static let temporaryAppError: UInt32 = 0x64

    public static func name(_ status: UInt32) -> String {
        switch status {
        case ok: "ESME_ROK"
        case invalidMessageLength: "ESME_RINVMSGLEN"
        case invalidCommandLength: "ESME_RINVCMDLEN"
        case invalidCommandID: "ESME_RINVCMDID"
        case incorrectBindStatus: "ESME_RINVBNDSTS"
        case alreadyBound: "ESME_RALYBND"
        case systemError: "ESME_RSYSERR"
        case invalidSourceAddress: "ESME_RINVSRCADR"
        case invalidDestinationAddress: "ESME_RINVDSTADR"
        case bindFailed: "ESME_RBINDFAIL"
        case invalidPassword: "ESME_RINVPASWD"
        case invalidSystemID: "ESME_RINVSYSID"
        case messageQueueFull: "ESME_RMSGQFUL"
        case submitFailed: "ESME_RSUBMITFAIL"
        case throttled: "ESME_RTHROTTLED"
        case temporaryAppError: "ESME_RX_T_APPN"
        case 0x65: "ESME_RX_P_APPN"
        case 0x66: "ESME_RX_R_APPN"
        default: "status " + String(format0x: status)
        }
    }

    /// Worth submitting again later: the SMSC is busy or failing, not refusing the message.
    public static func isTemporary(_ status: UInt32) -> Bool {
        [systemError, messageQueueFull, submitFailed, throttled, temporaryAppError].contains(status)
    }
}

public enum SMPPError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(String)
    public var description: String {
        switch self {
        case .malformed(let why): "malformed SMPP PDU: \(why)"
        }
    }
}

extension String {
    init(format0x value: UInt32) {
        self = hexadecimal(value)
    }
}

private func hexadecimal(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// Bodies of the PDUs mwid sends and reads.
public enum SMPPBody {
    static func cString(_ text: String, maximum: Int) -> [UInt8] {
        Array(text.utf8.prefix(maximum)) + [0]
    }

    /// bind_transmitter / bind_transceiver (§4.1).
    public static func bind(systemID: String, password: String, systemType: String) -> [UInt8] {
        cString(systemID, maximum: 15) + cString(password, maximum: 8) + cString(systemType, maximum: 12)
            + [0x34, 0, 0] + [0]  // interface_version 3.4, addr_ton, addr_npi, address_range ""
    }

    /// Type of number and numbering plan of an address: international (`+…`), national
    /// digits, or alphanumeric.
    public static func addressKind(_ address: String) -> (ton: UInt8, npi: UInt8, digits: String) {
        if address.hasPrefix("+"), address.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) {
            return (1, 1, String(address.dropFirst()))
        }
        if !address.isEmpty, address.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return (address.count > 8 ? 1 : 3, 1, address)
        }
        return (5, 0, address)
    }

    /// One submit_sm (§4.4) carrying `payload` (with its user data header when `udh`).
    public static func submitSM(source: String, destination: String, coding: SMSCoding, payload: [UInt8], udh: Bool,
                                registeredDelivery: Bool) -> [UInt8] {
        let s = addressKind(source), d = addressKind(destination)
        var out: [UInt8] = [0]  // service_type ""
        out += [s.ton, s.npi] + cString(s.digits, maximum: 20)
        out += [d.ton, d.npi] + cString(d.digits, maximum: 20)
        out += [udh ? 0x40 : 0x00, 0, 0]  // esm_class (UDHI), protocol_id, priority_flag
        out += [0, 0]  // schedule_delivery_time "", validity_period ""
        out += [registeredDelivery ? 1 : 0, 0, coding.dataCoding, 0]  // registered_delivery, replace, data_coding, sm_default_msg_id
        out.append(UInt8(payload.count))
        out += payload
        return out
    }

    /// The short messages of a text: one without header, or concatenated parts each with
    /// the 8-bit-reference user data header (3GPP TS 23.040 §9.2.3.24.1).
    public static func parts(of text: SMSText, reference: UInt8) -> [(udh: Bool, payload: [UInt8])] {
        guard text.parts.count > 1 else { return [(false, text.parts.first ?? [])] }
        let total = UInt8(min(text.parts.count, 255))
        return text.parts.prefix(255).enumerated().map { index, part in
            (true, [0x05, 0x00, 0x03, reference, total, UInt8(index + 1)] + part)
        }
    }

    /// A response's message_id (submit_sm_resp), empty when the body has none.
    public static func messageID(_ body: [UInt8]) -> String {
        String(decoding: body.prefix(while: { $0 != 0 }).prefix(65), as: UTF8.self)
    }

    /// The fields of a deliver_sm (§4.6.1) that matter for a delivery receipt.
    public struct Deliver: Sendable, Hashable {
        public var source: String
        public var destination: String
        public var esmClass: UInt8
        public var dataCoding: UInt8
        public var shortMessage: [UInt8]
        /// receipted_message_id (0x001E), message_state (0x0427).
        public var receiptedMessageID: String?
        public var messageState: UInt8?

        public var isReceipt: Bool { esmClass & 0x3C == 0x04 || esmClass & 0x3C == 0x08 }
    }

    public static func deliver(_ body: [UInt8]) throws(SMPPError) -> Deliver {
        var reader = Reader(bytes: body)
        _ = try reader.cString(max: 6)  // service_type
        _ = try reader.byte(); _ = try reader.byte()
        let source = try reader.cString(max: 21)
        _ = try reader.byte(); _ = try reader.byte()
        let destination = try reader.cString(max: 21)
        let esm = try reader.byte()
        _ = try reader.byte(); _ = try reader.byte()  // protocol_id, priority_flag
        _ = try reader.cString(max: 17); _ = try reader.cString(max: 17)  // schedule, validity
        _ = try reader.byte(); _ = try reader.byte()  // registered_delivery, replace_if_present
        let coding = try reader.byte()
        _ = try reader.byte()  // sm_default_msg_id
        let length = Int(try reader.byte())
        let message = try reader.bytes(length)
        var deliver = Deliver(source: source, destination: destination, esmClass: esm, dataCoding: coding, shortMessage: message)
        while reader.remaining >= 4 {
            let tag = UInt16(try reader.byte()) << 8 | UInt16(try reader.byte())
            let size = Int(UInt16(try reader.byte()) << 8 | UInt16(try reader.byte()))
            let value = try reader.bytes(size)
            switch tag {
            case 0x001E: deliver.receiptedMessageID = String(decoding: value.prefix(while: { $0 != 0 }), as: UTF8.self)
            case 0x0427: deliver.messageState = value.first
            default: break
            }
        }
        return deliver
    }

    /// A delivery receipt's message id and final state, from the TLVs or the text form of
    /// SMPP 3.4 Appendix B (`id:… sub:… dlvrd:… submit date:… done date:… stat:DELIVRD err:…`).
    public static func receipt(_ deliver: Deliver) -> (messageID: String, delivered: Bool, state: String)? {
        let text = String(decoding: deliver.shortMessage, as: UTF8.self)
        func field(_ name: String) -> String? {
            guard let range = text.range(of: name + ":", options: .caseInsensitive) else { return nil }
            return String(text[range.upperBound...].prefix(while: { $0 != " " }))
        }
        let states: [UInt8: String] = [1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
                                       7: "UNKNOWN", 8: "REJECTD"]
        guard let id = deliver.receiptedMessageID ?? field("id"), !id.isEmpty else { return nil }
        let state = deliver.messageState.flatMap { states[$0] } ?? field("stat")?.uppercased() ?? "UNKNOWN"
        return (id, state == "DELIVRD" || state == "ACCEPTD", state)
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0
        var remaining: Int { bytes.count - index }

        mutating func byte() throws(SMPPError) -> UInt8 {
            guard index < bytes.count else { throw .malformed("body ends early") }
            defer { index += 1 }
            return bytes[index]
        }

        mutating func bytes(_ count: Int) throws(SMPPError) -> [UInt8] {
            guard count <= remaining else { throw .malformed("a field of \(count) bytes overruns the body") }
            defer { index += count }
            return Array(bytes[index..<index + count])
        }

        mutating func cString(max: Int) throws(SMPPError) -> String {
            var out: [UInt8] = []
            while true {
                let b = try byte()
                if b == 0 { break }
                out.append(b)
                guard out.count < max else { throw .malformed("a C-octet string is longer than \(max - 1) characters") }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
