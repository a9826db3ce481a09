"""The store's schema as named, forward-only migrations, recorded in ``migrations``.

A migration is never edited once released: change the schema with a new one at the end.
"""
from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    ("0001_foundation", """
    CREATE TABLE events (
        seq             INTEGER PRIMARY KEY,                -- local arrival order
        event_id        TEXT NOT NULL UNIQUE,               -- UUIDv7, idempotency key to the platform
        wall_time       TEXT NOT NULL,                      -- ISO-8601 with its offset
        wall_ts         REAL NOT NULL,                      -- the same, epoch seconds, for ranges
        mono_ns         INTEGER NOT NULL,
        boot_id         TEXT NOT NULL,
        clock_synced    INTEGER NOT NULL,
        device_time     TEXT,
        id_card_type    TEXT NOT NULL,
        id_hash         TEXT,                               -- blind index of the ID number
        id_enc          BLOB,                               -- AES-GCM
        id_masked       TEXT,
        name_enc        BLOB,
        team_sys_no     INTEGER,
        team_name       TEXT NOT NULL DEFAULT '',
        direction       TEXT NOT NULL,
        method          TEXT NOT NULL,
        device_id       TEXT NOT NULL,
        lane            TEXT NOT NULL DEFAULT '',
        driver          TEXT NOT NULL DEFAULT '',
        outcome         TEXT NOT NULL,
        deny_reason     TEXT,
        decision_detail TEXT NOT NULL DEFAULT '',
        lng             REAL,
        lat             REAL,
        accuracy_m      REAL,
        photo_id        TEXT,
        note            TEXT NOT NULL DEFAULT '',
        extra           TEXT NOT NULL DEFAULT '{}',
        created_ts      REAL NOT NULL
    );
    CREATE INDEX events_wall ON events(wall_ts);
    CREATE INDEX events_worker ON events(id_hash, wall_ts);

    -- one row per (event, uplink) for events that are attendance; the uplink's whole life of a record
    CREATE TABLE deliveries (
        event_id        TEXT NOT NULL REFERENCES events(event_id) ON DELETE CASCADE,
        uplink          TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('held','pending','inflight','delivered','dead')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ts REAL NOT NULL DEFAULT 0,
        batch_id        TEXT,
        last_error      TEXT NOT NULL DEFAULT '',
        updated_ts      REAL NOT NULL,
        delivered_ts    REAL,
        PRIMARY KEY (event_id, uplink)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_queue ON deliveries(uplink, state, next_attempt_ts);

    -- what was sent in one call, byte for byte, and the platform's receipt (requestSerialCode)
    CREATE TABLE batches (
        batch_id        TEXT PRIMARY KEY,
        uplink          TEXT NOT NULL,
        state           TEXT NOT NULL,      -- sending | sent | unknown | done | failed
        receipt         TEXT,
        payload         BLOB,
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT NOT NULL DEFAULT '',
        created_ts      REAL NOT NULL,
        updated_ts      REAL NOT NULL
    );
    CREATE INDEX batches_state ON batches(uplink, state);

    CREATE TABLE dead_letters (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id        TEXT NOT NULL,
        uplink          TEXT NOT NULL,
        reason          TEXT NOT NULL,      -- the platform's own message
        code            TEXT NOT NULL DEFAULT '',
        created_ts      REAL NOT NULL,
        resolved_ts     REAL,               -- retried after correction, or dismissed
        resolution      TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX dead_letters_open ON dead_letters(resolved_ts, created_ts);

    CREATE TABLE photos (
        photo_id        TEXT PRIMARY KEY,
        event_id        TEXT,
        jpeg_enc        BLOB NOT NULL,      -- AES-GCM of the JPEG bytes
        size            INTEGER NOT NULL,
        created_ts      REAL NOT NULL
    );
    CREATE INDEX photos_event ON photos(event_id);

    CREATE TABLE workers (
        id_hash         TEXT PRIMARY KEY,
        id_enc          BLOB NOT NULL,
        id_masked       TEXT NOT NULL,
        id_card_type    TEXT NOT NULL DEFAULT '01',
        name_enc        BLOB NOT NULL,
        team_sys_no     INTEGER,
        team_name       TEXT NOT NULL DEFAULT '',
        work_type       TEXT NOT NULL DEFAULT '',
        card_no         TEXT,
        valid_to        TEXT,               -- YYYY-MM-DD: contract / entry validity
        blacklisted     INTEGER NOT NULL DEFAULT 0,
        status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','left')),
        pin             INTEGER UNIQUE,     -- stable number for devices that keep their own user list
        source          TEXT NOT NULL DEFAULT 'csv',
        created_ts      REAL NOT NULL,
        updated_ts      REAL NOT NULL
    );
    CREATE INDEX workers_card ON workers(card_no);

    CREATE TABLE alarms (
        code            TEXT PRIMARY KEY,
        severity        TEXT NOT NULL,      -- warning | critical
        message         TEXT NOT NULL,
        raised_ts       REAL NOT NULL,
        last_ts         REAL NOT NULL,
        count           INTEGER NOT NULL DEFAULT 1,
        cleared_ts      REAL
    );

    CREATE TABLE audit (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        ts              REAL NOT NULL,
        actor           TEXT NOT NULL,
        action          TEXT NOT NULL,
        subject         TEXT NOT NULL DEFAULT '',
        detail          TEXT NOT NULL DEFAULT ''
    );

    CREATE TABLE kv (
        key             TEXT PRIMARY KEY,
        value           TEXT NOT NULL,
        updated_ts      REAL NOT NULL
    );
    """),
    ("0002_source_key", """
    -- the device's own key for a record (serialNo, record index, SN+PIN+time): a device that resends
    -- after a lost answer or a reset stamp must not make a second event
    ALTER TABLE events ADD COLUMN source_key TEXT;
    CREATE UNIQUE INDEX events_source_key ON events(device_id, source_key) WHERE source_key IS NOT NULL;
    """),
    ("0003_reviews_users", """
    -- clock-ins the gateway will not decide alone (uncertain position, spoofing signals): a clerk
    -- accepts (it becomes an attendance event) or rejects them, with a note; never silently dropped
    CREATE TABLE reviews (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        kind            TEXT NOT NULL,              -- geofence | …
        created_ts      REAL NOT NULL,
        id_hash         TEXT,
        id_masked       TEXT NOT NULL DEFAULT '',
        event_enc       BLOB NOT NULL,              -- the would-be AttendanceEvent (JSON), AES-GCM
        reasons         TEXT NOT NULL,              -- JSON list of {code, message}
        status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','accepted','rejected')),
        decided_by      TEXT,
        decided_ts      REAL,
        note            TEXT NOT NULL DEFAULT '',
        event_id        TEXT                        -- the event made on acceptance
    );
    CREATE INDEX reviews_open ON reviews(status, created_ts);

    CREATE TABLE users (
        username        TEXT PRIMARY KEY,
        display_name    TEXT NOT NULL DEFAULT '',
        password_hash   TEXT NOT NULL,              -- scrypt, parameters encoded in the string
        role            TEXT NOT NULL DEFAULT 'clerk',
        failed_logins   INTEGER NOT NULL DEFAULT 0,
        locked_until    REAL NOT NULL DEFAULT 0,
        disabled        INTEGER NOT NULL DEFAULT 0,
        created_ts      REAL NOT NULL
    );
    CREATE TABLE sessions (
        token_hash      TEXT PRIMARY KEY,           -- SHA-256 of the cookie value; the value itself is not kept
        username        TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        csrf            TEXT NOT NULL,
        created_ts      REAL NOT NULL,
        last_seen_ts    REAL NOT NULL
    );

    -- phones of workers who clock in by geofence: the key is encrypted, shown once at issue
    CREATE TABLE phones (
        phone_id        TEXT PRIMARY KEY,
        id_hash         TEXT NOT NULL,
        id_masked       TEXT NOT NULL,
        key_enc         BLOB NOT NULL,
        created_ts      REAL NOT NULL,
        revoked_ts      REAL
    );
    CREATE INDEX phones_worker ON phones(id_hash);

    -- enrolled faces: the 128-d encoding and the enrolment photo, both encrypted
    CREATE TABLE faces (
        id_hash         TEXT PRIMARY KEY,
        encoding_enc    BLOB NOT NULL,              -- 128 float32, AES-GCM
        photo_enc       BLOB,                       -- JPEG crop, AES-GCM (terminals that need a photo)
        source          TEXT NOT NULL DEFAULT '',
        created_ts      REAL NOT NULL,
        updated_ts      REAL NOT NULL
    );
    """),
    ("0004_uplink_national", """
    -- the national uplink's durable batch protocol (gateway/uplink/national/batches.py, docs/platform.md):
    -- which events a batch holds in dataList order, when to act on it next, why it must be reconciled
    ALTER TABLE batches ADD COLUMN event_ids TEXT NOT NULL DEFAULT '[]';  -- JSON list, dataList order
    ALTER TABLE batches ADD COLUMN next_ts REAL NOT NULL DEFAULT 0;       -- next poll / reconcile / send
    ALTER TABLE batches ADD COLUMN reconcile TEXT NOT NULL DEFAULT '';    -- lost | rejected | failed | expired
    ALTER TABLE batches ADD COLUMN parent_id TEXT;                        -- the batch it was split from
    CREATE INDEX batches_due ON batches(uplink, state, next_ts);
    """),
    ("0005_event_queue_for", """
    -- which uplinks an event was queued for when it was stored (JSON list; NULL: none, e.g. a denied
    -- attempt). The trigger makes its deliveries rows in the same statement as the event, so that a
    -- group of appends is one INSERT that SQLite commits on its own (buffer/writer.py).
    ALTER TABLE events ADD COLUMN queue_for TEXT;
    CREATE TRIGGER events_queue_for AFTER INSERT ON events WHEN NEW.queue_for IS NOT NULL
    BEGIN
        INSERT INTO deliveries(event_id, uplink, state, updated_ts)
        SELECT NEW.event_id, value, CASE WHEN NEW.clock_synced THEN 'pending' ELSE 'held' END, NEW.created_ts
        FROM json_each(NEW.queue_for);
    END;
    """),
]
