-- Initial schema: users, security events and the alerts they raise.
--
-- Domain values are PostgreSQL enums rather than free text: the database
-- refuses a value the API would refuse, they take 4 bytes in an index, and
-- `severity` sorts in its natural order (Low < Medium < High < Critical),
-- which the alert rule relies on (`severity >= 'High'`).

CREATE TYPE user_role AS ENUM ('admin', 'analyst');
CREATE TYPE event_type AS ENUM ('intrusion', 'malware', 'anomaly');
CREATE TYPE severity AS ENUM ('Low', 'Medium', 'High', 'Critical');
CREATE TYPE alert_status AS ENUM ('Open', 'Acknowledged', 'Resolved');

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Django's limit, so usernames from the original deployment still fit.
    username      TEXT NOT NULL UNIQUE CHECK (char_length(username) BETWEEN 1 AND 150),
    -- An argon2id PHC string; never a plain password.
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    role          user_role NOT NULL,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT NOT NULL CHECK (char_length(source) BETWEEN 1 AND 100),
    event_type  event_type NOT NULL,
    severity    severity NOT NULL,
    -- The API documents and enforces the same limit; the check is the backstop.
    description TEXT NOT NULL CHECK (char_length(description) <= 10000),
    -- Set by the server, never by the client.
    "timestamp" TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Lists are newest first with `id` as the tie-breaker, and `since`/`until`
-- are ranges on the timestamp: one index serves both.
CREATE INDEX events_timestamp_id_idx ON events ("timestamp" DESC, id DESC);

CREATE TABLE alerts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Deleting an event deletes its alerts.
    event_id   BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    -- A copy of the event's severity, kept in step by every write to the event
    -- (same statement), so that the alert list filters on alerts alone.
    severity   severity NOT NULL,
    status     alert_status NOT NULL DEFAULT 'Open',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- At most one alert per event, whatever races between writers: two
-- concurrent updates raising the same event's severity cannot both insert.
CREATE UNIQUE INDEX alerts_event_id_key ON alerts (event_id);

-- The triage list: `?severity=High&status=Open`, newest first.
CREATE INDEX alerts_status_severity_created_idx
    ON alerts (status, severity, created_at DESC, id DESC);
-- `?severity=` alone, without a status.
CREATE INDEX alerts_severity_created_idx ON alerts (severity, created_at DESC, id DESC);
-- Unfiltered lists and `since`/`until` on created_at.
CREATE INDEX alerts_created_id_idx ON alerts (created_at DESC, id DESC);
