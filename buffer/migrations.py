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
]
