import Foundation
import UnifiedMessaging

/// Tables for people, JSON for scripts.
enum Output {
    static func print(_ value: JSONValue, json: Bool, columns: [(header: String, key: String)]) {
        if json {
            printJSON(value)
            return
        }
        switch value {
        case .array(let rows):
            printTable(rows, columns: columns)
        case .object(let fields):
            let keys = columns.map(\.key) + fields.keys.sorted().filter { key in !columns.contains { $0.key == key } }
            let width = keys.map(\.count).max() ?? 0
            for key in keys where fields[key] != nil && !(fields[key]?.isNested ?? false) {
                let text = fields[key]?.text ?? "-"
                Swift.print(key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + text)
            }
        default:
            printJSON(value)
        }
    }

    static func printTable(_ rows: [JSONValue], columns: [(header: String, key: String)]) {
        if rows.isEmpty {
            Swift.print("(none)")
            return
        }
        let cells = rows.map { row in columns.map { row[$0.key]?.text ?? "-" } }
        var widths = columns.map(\.header.count)
        for line in cells {
            for (i, cell) in line.enumerated() { widths[i] = max(widths[i], cell.count) }
        }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        Swift.print(line(columns.map(\.header)))
        for values in cells { Swift.print(line(values)) }
    }

    static func printJSON(_ value: JSONValue) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8) {
            Swift.print(text)
        }
    }
}

extension JSONValue {
    /// An object, or an array holding objects: shown by its own table, not in a cell.
    var isNested: Bool {
        switch self {
        case .object: true
        case .array(let items): items.contains { if case .object = $0 { true } else { false } }
        default: false
        }
    }
}
