"""Fills an mwid SQLite database (made by mwid, then stopped) with COUNT mailboxes in the
dial plan and policy the benchmark created, straight through SQL: a storage-size figure,
not an API one. Usage: populate.py DB COUNT"""
import sqlite3, sys
db, count = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
have = con.execute("SELECT count(*) FROM mailbox").fetchone()[0]
rows = ((f"user{i:07d}", f"{i:07d}", "Bench", "Default", None, "None", None) for i in range(have, count))
con.executemany("INSERT INTO mailbox (identity, extension, dial_plan, policy, sip_resource_identifier, sms_option, sip_password)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()
