-- Sensor ingest: ingest keys, deduplication into open alerts, idempotent
-- retries and silences.
--
-- Additive only: every new column is nullable or has a default, so the
-- version still running during a deploy keeps inserting events and alerts
-- as it did (its alerts get occurrences 1 and first/last seen of now()).

-- What became of an event (its answer's `outcome`), and where a silence is
-- in its window: computed by queries, typed so the API's enums read them.
CREATE TYPE ingest_outcome AS ENUM ('raised', 'deduplicated', 'suppressed', 'none');
CREATE TYPE silence_state AS ENUM ('pending', 'active', 'expired');

-- Keys sensors send instead of a user's password. The secret is never
-- stored: only its SHA-256 (the secret is 256 random bits, so a slow
-- password hash would add cold CPU and no strength). `prefix` is the
-- non-secret start of the key, by which a request finds its row; not unique,
-- because the lookup compares every row with that prefix.
CREATE TABLE ingest_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    source       TEXT NOT NULL CHECK (char_length(source) BETWEEN 1 AND 100),
    prefix       TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL CHECK (octet_length(secret_hash) = 32),
    -- The admin who minted it; NULL for an operator (tmctl, the admin
    -- function). No foreign key: the record outlives the admin.
    created_by   BIGINT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE INDEX ingest_keys_prefix_idx ON ingest_keys (prefix);

-- Planned maintenance and known-noisy detectors: events matching an active
-- silence are stored and raise no alert. A silence ends early by `ended_at`
-- (DELETE); the row stays for the record.
CREATE TABLE silences (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT CHECK (char_length(source) BETWEEN 1 AND 100),
    event_type  event_type,
    severities  severity[] CHECK (cardinality(severities) > 0),
    dedup_key   TEXT CHECK (char_length(dedup_key) BETWEEN 1 AND 255),
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    ended_at    TIMESTAMPTZ,
    comment     TEXT NOT NULL CHECK (char_length(comment) <= 1000),
    created_by  BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at AND ends_at <= starts_at + interval '90 days'),
    CHECK (num_nonnulls(source, event_type, severities, dedup_key) > 0)
);
-- Each instance loads the silences not yet over (see `store::silences`).
CREATE INDEX silences_ends_at_idx ON silences (ends_at);

-- An event's dedup key, the silence that suppressed it, and the alert it
-- was attached to when it did not raise its own (the alert an event raised
-- is still found by alerts.event_id, as before).
--
-- Every column added to events and alerts is nullable with no default, so
-- adding it touches no row, and its constraints are NOT VALID: the rows
-- already there have NULL, which passes, and PostgreSQL need not scan a
-- large table under its exclusive lock to learn that. New rows are checked.
-- The indexes on these columns are built concurrently by the next migration.
ALTER TABLE events
    ADD COLUMN dedup_key TEXT,
    ADD COLUMN silence_id BIGINT,
    ADD COLUMN alert_id BIGINT;
ALTER TABLE events
    ADD CONSTRAINT events_dedup_key_check
        CHECK (char_length(dedup_key) BETWEEN 1 AND 255) NOT VALID,
    ADD CONSTRAINT events_silence_id_fkey
        FOREIGN KEY (silence_id) REFERENCES silences (id) NOT VALID,
    ADD CONSTRAINT events_alert_id_fkey
        FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE SET NULL NOT VALID;

-- `dedup_source` is the source of the alert's first event when it has a
-- dedup key: keys are scoped by source, so one sensor cannot attach its
-- events to another's alert. `first_seen`/`last_seen` are NULL for alerts
-- from before this migration (and from the older version still running
-- during the deploy); reads show `created_at` for them.
ALTER TABLE alerts
    ADD COLUMN dedup_key TEXT,
    ADD COLUMN dedup_source TEXT,
    ADD COLUMN occurrences BIGINT,
    ADD COLUMN first_seen TIMESTAMPTZ,
    ADD COLUMN last_seen TIMESTAMPTZ;
ALTER TABLE alerts
    ADD CONSTRAINT alerts_dedup_key_check
        CHECK (char_length(dedup_key) BETWEEN 1 AND 255) NOT VALID,
    ADD CONSTRAINT alerts_dedup_source_check
        CHECK ((dedup_key IS NULL) = (dedup_source IS NULL)) NOT VALID,
    ADD CONSTRAINT alerts_occurrences_check CHECK (occurrences >= 1) NOT VALID;

-- The first answer to a request sent with an `Idempotency-Key`, per
-- principal ('user:<id>' or 'key:<id>'), for 24 hours. `status` is NULL
-- while the first request is still running. `request_hash` is the SHA-256 of
-- the method, path and body, so the same key with another body is refused.
CREATE TABLE idempotency_keys (
    principal    TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status       SMALLINT,
    body         TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
