import GRDB

/// The versioned schema. Migrations run on start, in order, each once; a new version
/// appends a migration and never edits an old one. Keys are names, identities and UUIDs
/// so that the same schema serves several nodes on PostgreSQL.
enum SQLiteSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: directory, voice messages, event log") { db in
            try db.execute(sql: """
                CREATE TABLE dial_plan (
                    name TEXT PRIMARY KEY NOT NULL,
                    number_of_digits INTEGER NOT NULL CHECK (number_of_digits BETWEEN 1 AND 20),
                    uri_type TEXT NOT NULL,
                    voip_security TEXT NOT NULL,
                    country_code TEXT
                );
                CREATE TABLE gateway (
                    name TEXT PRIMARY KEY NOT NULL,
                    address TEXT NOT NULL,
                    port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
                    transport TEXT NOT NULL,
                    status TEXT NOT NULL,
                    mwi_allowed INTEGER NOT NULL,
                    priority INTEGER NOT NULL,
                    username TEXT,
                    password TEXT
                );
                CREATE TABLE gateway_dial_plan (
                    gateway TEXT NOT NULL REFERENCES gateway(name) ON DELETE CASCADE,
                    dial_plan TEXT NOT NULL REFERENCES dial_plan(name) ON DELETE RESTRICT,
                    position INTEGER NOT NULL,
                    PRIMARY KEY (gateway, dial_plan)
                );
                CREATE INDEX gateway_dial_plan_by_plan ON gateway_dial_plan(dial_plan);
                CREATE TABLE mailbox_policy (
                    name TEXT PRIMARY KEY NOT NULL,
                    dial_plan TEXT NOT NULL REFERENCES dial_plan(name) ON DELETE RESTRICT,
                    allow_mwi INTEGER NOT NULL,
                    allow_sms INTEGER NOT NULL
                );
                CREATE INDEX mailbox_policy_by_plan ON mailbox_policy(dial_plan);
                CREATE TABLE mailbox (
                    identity TEXT PRIMARY KEY NOT NULL,
                    extension TEXT NOT NULL,
                    dial_plan TEXT NOT NULL REFERENCES dial_plan(name) ON DELETE RESTRICT,
                    policy TEXT NOT NULL REFERENCES mailbox_policy(name) ON DELETE RESTRICT,
                    sip_resource_identifier TEXT,
                    sms_option TEXT NOT NULL,
                    sip_password TEXT,
                    new_count INTEGER NOT NULL DEFAULT 0,
                    old_count INTEGER NOT NULL DEFAULT 0,
                    urgent_new_count INTEGER NOT NULL DEFAULT 0,
                    urgent_old_count INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (dial_plan, extension)
                );
                CREATE INDEX mailbox_by_policy ON mailbox(policy);
                CREATE TABLE voice_message (
                    id TEXT PRIMARY KEY NOT NULL,
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    caller TEXT NOT NULL,
                    received_at REAL NOT NULL,
                    duration_seconds INTEGER NOT NULL,
                    urgent INTEGER NOT NULL,
                    protected INTEGER NOT NULL,
                    read INTEGER NOT NULL,
                    transcript TEXT
                );
                CREATE INDEX voice_message_by_mailbox ON voice_message(mailbox, received_at);
                CREATE TABLE event (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at REAL NOT NULL,
                    level TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    message TEXT NOT NULL
                );
                CREATE INDEX event_by_subject ON event(subject, id);
                """)
        }
        migrator.registerMigration("v2: MWI delivery: state versions, acknowledged states, attempts") { db in
            try db.execute(sql: """
                ALTER TABLE mailbox ADD COLUMN state_version INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE mwi_acknowledged (
                    mailbox TEXT PRIMARY KEY NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    new_count INTEGER NOT NULL,
                    old_count INTEGER NOT NULL,
                    urgent_new_count INTEGER NOT NULL,
                    urgent_old_count INTEGER NOT NULL,
                    gateway TEXT NOT NULL,
                    at REAL NOT NULL
                );
                CREATE TABLE mwi_attempt (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    gateway TEXT NOT NULL,
                    transport TEXT NOT NULL,
                    at REAL NOT NULL,
                    response TEXT NOT NULL,
                    delivered INTEGER NOT NULL
                );
                CREATE INDEX mwi_attempt_by_mailbox ON mwi_attempt(mailbox, id);
                """)
        }
        migrator.registerMigration("v3: subscriptions, unsolicited NOTIFYs per dial plan") { db in
            try db.execute(sql: """
                ALTER TABLE dial_plan ADD COLUMN unsolicited_when_subscribed INTEGER NOT NULL DEFAULT 1;
                CREATE INDEX mailbox_by_extension ON mailbox(extension);
                CREATE INDEX mailbox_by_sip_resource ON mailbox(sip_resource_identifier);
                CREATE TABLE subscription (
                    id TEXT PRIMARY KEY NOT NULL,
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    call_id TEXT NOT NULL,
                    remote_tag TEXT NOT NULL,
                    local_uri TEXT NOT NULL,
                    remote_uri TEXT NOT NULL,
                    remote_target TEXT NOT NULL,
                    route_set TEXT NOT NULL,
                    transport TEXT NOT NULL,
                    source TEXT NOT NULL,
                    event_id TEXT,
                    remote_cseq INTEGER NOT NULL,
                    local_cseq_reserved INTEGER NOT NULL,
                    expires_at REAL NOT NULL,
                    created_at REAL NOT NULL,
                    subscriber TEXT NOT NULL
                );
                CREATE INDEX subscription_by_mailbox ON subscription(mailbox);
                """)
        }
        migrator.registerMigration("v4: directory version (for cached dial plans, policies and gateways)") { db in
            try db.execute(sql: """
                CREATE TABLE directory_version (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    version INTEGER NOT NULL
                );
                INSERT INTO directory_version (id, version) VALUES (1, 1);
                """)
        }
        migrator.registerMigration("v5: attempts without AUTOINCREMENT (no sqlite_sequence write per attempt)") { db in
            try db.execute(sql: """
                CREATE TABLE mwi_attempt_new (
                    id INTEGER PRIMARY KEY,
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    gateway TEXT NOT NULL,
                    transport TEXT NOT NULL,
                    at REAL NOT NULL,
                    response TEXT NOT NULL,
                    delivered INTEGER NOT NULL
                );
                INSERT INTO mwi_attempt_new SELECT * FROM mwi_attempt;
                DROP TABLE mwi_attempt;
                ALTER TABLE mwi_attempt_new RENAME TO mwi_attempt;
                CREATE INDEX mwi_attempt_by_mailbox ON mwi_attempt(mailbox, id);
                """)
        }
        migrator.registerMigration("v6: SMS routes, carrier catalog, mailbox text settings, outbox, missed calls") { db in
            try db.execute(sql: """
                CREATE TABLE sms_route (
                    name TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL,
                    definition TEXT NOT NULL
                );
                CREATE TABLE sms_carrier (
                    locale TEXT NOT NULL,
                    name TEXT NOT NULL,
                    route TEXT NOT NULL REFERENCES sms_route(name) ON DELETE RESTRICT,
                    email_domain TEXT,
                    PRIMARY KEY (locale, name)
                );
                CREATE INDEX sms_carrier_by_route ON sms_carrier(route);
                CREATE TABLE mailbox_sms (
                    mailbox TEXT PRIMARY KEY NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    settings TEXT NOT NULL
                );
                CREATE TABLE sms_outbox (
                    id TEXT PRIMARY KEY NOT NULL,
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    purpose TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    number TEXT NOT NULL,
                    carrier TEXT NOT NULL,
                    locale TEXT NOT NULL,
                    route TEXT,
                    text TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    not_before REAL NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    parts_sent INTEGER NOT NULL,
                    message_ids TEXT NOT NULL,
                    last_error TEXT,
                    updated_at REAL NOT NULL
                );
                CREATE INDEX sms_outbox_due ON sms_outbox(status, not_before);
                CREATE INDEX sms_outbox_by_mailbox ON sms_outbox(mailbox, created_at);
                CREATE TABLE sms_message_id (
                    route TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    sms TEXT NOT NULL REFERENCES sms_outbox(id) ON DELETE CASCADE,
                    PRIMARY KEY (route, message_id)
                );
                CREATE INDEX sms_message_id_by_sms ON sms_message_id(sms);
                CREATE TABLE missed_call (
                    id TEXT PRIMARY KEY NOT NULL,
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    caller TEXT NOT NULL,
                    at REAL NOT NULL,
                    sms TEXT
                );
                CREATE INDEX missed_call_by_mailbox ON missed_call(mailbox, at);
                """)
        }
        migrator.registerMigration("v7: externally-fed mailboxes and their publications (SIP PUBLISH, PUT mwi)") { db in
            try db.execute(sql: """
                ALTER TABLE mailbox ADD COLUMN mwi_source TEXT NOT NULL DEFAULT 'Messages';
                CREATE TABLE mwi_publication (
                    etag TEXT PRIMARY KEY NOT NULL,
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    new_count INTEGER NOT NULL,
                    old_count INTEGER NOT NULL,
                    urgent_new_count INTEGER NOT NULL,
                    urgent_old_count INTEGER NOT NULL,
                    publisher TEXT NOT NULL,
                    updated_at REAL NOT NULL,
                    expires_at REAL
                );
                CREATE INDEX mwi_publication_by_mailbox ON mwi_publication(mailbox, updated_at);
                CREATE INDEX mwi_publication_expiry ON mwi_publication(expires_at) WHERE expires_at IS NOT NULL;
                """)
        }
        // A PUBLISH that refreshes or modifies its publication changes its entity tag, its
        // time and its expiry. With the tag as the table's key, that moved entries in four
        // b-trees at random places (the row, the tag's index, the mailbox's index, the
        // expiry index): about five pages and 18.7 KiB written per PUBLISH at 4 000/s. Keyed
        // by (mailbox, etag) without a rowid, the row and its new tag stay on the mailbox's
        // page, and the mailbox's index is the key itself. `seq` keeps the order of
        // insertion (the rowid's part in "newest first" before).
        migrator.registerMigration("v8: publications keyed by mailbox and entity tag") { db in
            try db.execute(sql: """
                CREATE TABLE mwi_publication_v8 (
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    etag TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    new_count INTEGER NOT NULL,
                    old_count INTEGER NOT NULL,
                    urgent_new_count INTEGER NOT NULL,
                    urgent_old_count INTEGER NOT NULL,
                    publisher TEXT NOT NULL,
                    updated_at REAL NOT NULL,
                    expires_at REAL,
                    PRIMARY KEY (mailbox, etag)
                ) WITHOUT ROWID;
                INSERT INTO mwi_publication_v8 (mailbox, etag, seq, new_count, old_count, urgent_new_count, urgent_old_count,
                    publisher, updated_at, expires_at)
                    SELECT mailbox, etag, rowid, new_count, old_count, urgent_new_count, urgent_old_count, publisher, updated_at,
                        expires_at FROM mwi_publication;
                DROP TABLE mwi_publication;
                ALTER TABLE mwi_publication_v8 RENAME TO mwi_publication;
                CREATE INDEX mwi_publication_expiry ON mwi_publication(expires_at) WHERE expires_at IS NOT NULL;
                """)
        }
        // A deposit wrote two b-trees at random places besides its mailbox's row and the
        // table's end: its random UUID went into the key's index and its mailbox into the
        // by-mailbox index. Keyed by (mailbox, id) without a rowid, a message is one entry
        // on its mailbox's page, and that key is the by-mailbox index: 18.8 → 9.5 KiB
        // written (WAL and checkpoints) per deposit and its NOTIFY at 4 000/s.
        // Messages are addressed within their mailbox (`/mailboxes/{id}/messages/{id}`), so
        // the key is unique where it is used.
        migrator.registerMigration("v9: voice messages keyed by mailbox and id") { db in
            try db.execute(sql: """
                CREATE TABLE voice_message_v9 (
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    caller TEXT NOT NULL,
                    received_at REAL NOT NULL,
                    duration_seconds INTEGER NOT NULL,
                    urgent INTEGER NOT NULL,
                    protected INTEGER NOT NULL,
                    read INTEGER NOT NULL,
                    transcript TEXT,
                    PRIMARY KEY (mailbox, id)
                ) WITHOUT ROWID;
                INSERT INTO voice_message_v9 (mailbox, id, caller, received_at, duration_seconds, urgent, protected, read, transcript)
                    SELECT mailbox, id, caller, received_at, duration_seconds, urgent, protected, read, transcript FROM voice_message;
                DROP TABLE voice_message;
                ALTER TABLE voice_message_v9 RENAME TO voice_message;
                """)
        }
        // A new subscription wrote three b-trees: the table's end, its random id into the
        // key's index and its mailbox into the by-mailbox index. Keyed by (mailbox, id)
        // without a rowid, as voice messages are since v9, it is one entry on its mailbox's
        // page, and that key is the by-mailbox index (the cascade from a removed mailbox, a
        // mailbox's listing); an unsubscribe or expiry deletes one entry, not three. Phones
        // subscribing in their mailboxes' order cost the group commit a quarter less CPU;
        // in a scattered order each still dirties about one random page, as before
        // (bench/results/2026-12-08-s25-subscriptions.md). Subscriptions are ended within
        // their mailbox; an id is 60 random bits, and the notifier draws another should
        // one be live already.
        migrator.registerMigration("v10: subscriptions keyed by mailbox and id") { db in
            try db.execute(sql: """
                CREATE TABLE subscription_v10 (
                    mailbox TEXT NOT NULL REFERENCES mailbox(identity) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    call_id TEXT NOT NULL,
                    remote_tag TEXT NOT NULL,
                    local_uri TEXT NOT NULL,
                    remote_uri TEXT NOT NULL,
                    remote_target TEXT NOT NULL,
                    route_set TEXT NOT NULL,
                    transport TEXT NOT NULL,
                    source TEXT NOT NULL,
                    event_id TEXT,
                    remote_cseq INTEGER NOT NULL,
                    local_cseq_reserved INTEGER NOT NULL,
                    expires_at REAL NOT NULL,
                    created_at REAL NOT NULL,
                    subscriber TEXT NOT NULL,
                    PRIMARY KEY (mailbox, id)
                ) WITHOUT ROWID;
                INSERT INTO subscription_v10 (mailbox, id, call_id, remote_tag, local_uri, remote_uri, remote_target, route_set,
                    transport, source, event_id, remote_cseq, local_cseq_reserved, expires_at, created_at, subscriber)
                    SELECT mailbox, id, call_id, remote_tag, local_uri, remote_uri, remote_target, route_set, transport, source,
                        event_id, remote_cseq, local_cseq_reserved, expires_at, created_at, subscriber FROM subscription;
                DROP TABLE subscription;
                ALTER TABLE subscription_v10 RENAME TO subscription;
                """)
        }
        return migrator
    }
}
