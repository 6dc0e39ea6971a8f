"""Adds mailboxes user0000000… to an mwid SQLite database (made by mwid, then stopped),
straight through SQL, in dial plan Bench with policy Default: fills a directory of a
million mailboxes in seconds. Usage: populate.py DB COUNT [External]
(External: their counts come from PUBLISH or PUT mwi, for bench/fanout/run)"""
import sqlite3, sys
db, count = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
con.execute("PRAGMA journal_mode=WAL")
have = con.execute("SELECT count(*) FROM mailbox").fetchone()[0]
source = sys.argv[3] if len(sys.argv) > 3 else "Messages"
rows = ((f"user{i:07d}", f"{i:07d}", "Bench", "Default", None, "None", "secret", source) for i in range(have, count))
con.executemany("INSERT INTO mailbox (identity, extension, dial_plan, policy, sip_resource_identifier, sms_option, sip_password,"
                " mwi_source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
con.commit()
con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
con.close()
