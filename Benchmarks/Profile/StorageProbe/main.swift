import Foundation
import Storage

// The SQLite backend's hot look-ups, timed one after the other on a database that
// bench/mwi/populate.py filled (mwid stopped):
//
//   StorageProbe DB COUNT MAILBOXES
//       COUNT look-ups of a SUBSCRIBE (extension or SIP resource identifier), COUNT by
//       extension alone, then COUNT by identity (the dispatcher's, one mailbox at a time),
//       over extensions 0000000…MAILBOXES-1; prints microseconds per look-up.
let args = CommandLine.arguments
guard args.count == 4, let count = Int(args[2]), let mailboxes = Int(args[3]), count > 0, mailboxes > 0 else {
    FileHandle.standardError.write(Data("usage: StorageProbe DB COUNT MAILBOXES\n".utf8))
    exit(2)
}
let storage = try SQLiteStorage(path: args[1])
let extensions = (0..<mailboxes).map { i in String(repeating: "0", count: max(0, 7 - String(i).count)) + String(i) }
func ext(_ i: Int) -> String { extensions[i % mailboxes] }

func timed(_ name: String, _ body: (Int) async throws -> Int) async rethrows {
    var found = 0
    let start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<count { found += try await body(i) }
    let micros = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(count) / 1000
    print("\(name): \((micros * 10).rounded() / 10) µs per look-up (\(found) found)")
}
// Off the main actor, as in mwid (its tasks run on the global executor's threads).
try await Task.detached {
    try await timed("by address (a SUBSCRIBE)") { i in
        let e = ext(i)
        return try await storage.deliveryContexts(extension: e, resourceIdentifiers: [e, "sip:\(e)@127.0.0.1", "sips:\(e)@127.0.0.1"]).count
    }
    try await timed("by extension") { i in try await storage.deliveryContexts(extension: ext(i), resourceIdentifiers: []).count }
    let identities = try await storage.deliveryContexts(extension: ext(0), resourceIdentifiers: []).map(\.mailbox.identity)
    if let identity = identities.first {
        try await timed("by identity (one mailbox)") { _ in try await storage.deliveryContexts(mailboxes: [identity]).count }
    }
}.value
