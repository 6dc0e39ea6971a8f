import GRDB
@testable import Storage
import Testing

/// Rows read by position straight from the statement (the hot look-ups' reader).
@Suite struct StatementRowTests {
    @Test func valuesByPositionNullsAsNilAndARequiredNullRefusedByName() throws {
        let queue = try DatabaseQueue()
        try queue.inDatabase { db in
            var seen: [(String?, String?, Int?, Double?)] = []
            try db.each("SELECT 'alice', NULL, 7, 2.5 UNION ALL SELECT 'bob', 'x', NULL, NULL", []) { row in
                seen.append((row[0], row[1], row[2], row[3]))
            }
            #expect(seen.count == 2)
            #expect(seen[0] == ("alice", nil, 7, 2.5))
            #expect(seen[1] == ("bob", "x", nil, nil))
            let refusal = #expect(throws: StorageFailure.self) {
                try db.each("SELECT 'alice', NULL", []) { row in _ = try row.required(1, "mailbox.extension") as String }
            }
            #expect(refusal?.description == "column mailbox.extension is NULL where a value is required")
        }
    }

    @Test func firstTakesTheFirstRowAndNilWithoutOne() throws {
        let queue = try DatabaseQueue()
        try queue.inDatabase { db in
            try db.execute(sql: "CREATE TABLE t (name TEXT NOT NULL, n INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO t VALUES ('a', 1), ('b', 2)")
            #expect(try db.first("SELECT name FROM t WHERE n > ? ORDER BY n", [5]) { row in row[0] as String? } == nil)
            // An UPDATE … RETURNING runs to its end: every row is updated, the first is read.
            let first = try db.first("UPDATE t SET n = n + 10 RETURNING name, n", []) { row in
                (try row.required(0, "t.name") as String, try row.required(1, "t.n") as Int)
            }
            #expect(first.map { [$0.0] } == ["a"] && first?.1 == 11)
            #expect(try Int.fetchAll(db, sql: "SELECT n FROM t ORDER BY n") == [11, 12])
        }
    }
}
