-- Triage: assignment, comments, one timeline per alert, versions for
-- If-Match, and the times stats read.
--
-- Additive, as every migration: new columns are nullable or have a
-- constant default (PostgreSQL records that default without rewriting a
-- row), constraints are NOT VALID, and the version still running during a
-- deploy keeps working: its alerts and status changes reach the timeline
-- through the triggers below.

CREATE TYPE timeline_kind AS ENUM
    ('created', 'status_changed', 'assigned', 'commented', 'severity_changed', 'occurrence');

-- Who posted an event: a user or an ingest key (NULL for events from before
-- this migration and from an operator's tools). No foreign keys: the record
-- outlives a revoked key or a removed user.
ALTER TABLE events
    ADD COLUMN created_by BIGINT,
    ADD COLUMN key_id BIGINT;

-- `version` is the alert's ETag, bumped by a trigger on every update, so
-- the older version's writes bump it too. Alerts from before, and from the
-- older version, start at 0; this version's at 1. `acknowledged_at` is the first
-- acknowledgement, `resolved_at` the latest resolution (cleared by a
-- reopening); both kept by the same trigger, for time-to-acknowledge and
-- time-to-resolve.
ALTER TABLE alerts
    ADD COLUMN assignee_id BIGINT,
    ADD COLUMN version BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN acknowledged_at TIMESTAMPTZ,
    ADD COLUMN resolved_at TIMESTAMPTZ;
ALTER TABLE alerts
    ADD CONSTRAINT alerts_assignee_id_fkey
        FOREIGN KEY (assignee_id) REFERENCES users (id) ON DELETE SET NULL NOT VALID;

-- Comments are never edited or deleted through the API. No foreign key to
-- the alert: like the timeline, they outlive a deleted event.
CREATE TABLE alert_comments (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id   BIGINT NOT NULL,
    author_id  BIGINT NOT NULL,
    body       TEXT NOT NULL CHECK (char_length(body) BETWEEN 1 AND 10000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX alert_comments_alert_idx ON alert_comments (alert_id, id);

-- Everything that happened to an alert, oldest first by id. Append-only:
-- the API has no statement that updates or deletes it. Entries of one alert
-- are written under that alert's row lock, so their ids are in commit order
-- and a cursor walking them skips none. The actor is a user, a key, or
-- neither (the system).
CREATE TABLE alert_timeline (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id      BIGINT NOT NULL,
    kind          timeline_kind NOT NULL,
    at            TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_user    BIGINT,
    actor_key     BIGINT,
    from_status   alert_status,
    to_status     alert_status,
    from_assignee BIGINT,
    to_assignee   BIGINT,
    from_severity severity,
    to_severity   severity,
    comment_id    BIGINT,
    event_id      BIGINT,
    CHECK (num_nonnulls(actor_user, actor_key) <= 1)
);
CREATE INDEX alert_timeline_alert_idx ON alert_timeline (alert_id, id);

-- The actor of the current transaction, for the severity entries the
-- update trigger writes: 'user:<id>' or 'key:<id>' in the setting tm.actor
-- (set with set_config(..., true), so it ends with the transaction), or
-- NULL: the system (a deduplicated event of a higher severity).
CREATE FUNCTION tm_actor(kind text) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN split_part(current_setting('tm.actor', true), ':', 1) = kind
                THEN split_part(current_setting('tm.actor', true), ':', 2)::bigint END
$$;

-- A new alert's first entry, when the older version raised it during a
-- deploy: this version writes it in the statement that raises the alert
-- (before the events that attach to it) and inserts alerts at version 1,
-- so the condition, checked without calling the function, skips them.
CREATE FUNCTION alert_timeline_created() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_timeline (alert_id, kind, at, event_id, to_status, to_severity)
    VALUES (NEW.id, 'created', NEW.created_at, NEW.event_id, NEW.status, NEW.severity);
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_timeline_created AFTER INSERT ON alerts
    FOR EACH ROW WHEN (NEW.version = 0) EXECUTE FUNCTION alert_timeline_created();

-- Every update: the version, the change's time, the lifecycle's times,
-- and an entry when the severity moved (an event's edit, or a deduplicated event of a higher
-- severity). Status and assignee entries are written by the statements
-- that change them, which know the comment that goes with the change.
CREATE FUNCTION alerts_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    -- The time of the write itself, not of its transaction's start: the
    -- changes feed orders by it, and a long transaction's changes would
    -- otherwise appear behind changes a reader has already passed.
    NEW.updated_at := clock_timestamp();
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NEW.status = 'Acknowledged' AND OLD.acknowledged_at IS NULL THEN
            NEW.acknowledged_at := now();
        END IF;
        IF NEW.status = 'Resolved' THEN
            NEW.resolved_at := now();
        ELSE
            NEW.resolved_at := NULL;
        END IF;
    END IF;
    IF NEW.severity IS DISTINCT FROM OLD.severity THEN
        INSERT INTO alert_timeline (alert_id, kind, actor_user, actor_key,
                                    from_severity, to_severity)
        VALUES (NEW.id, 'severity_changed', tm_actor('user'), tm_actor('key'),
                OLD.severity, NEW.severity);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER alerts_before_update BEFORE UPDATE ON alerts
    FOR EACH ROW EXECUTE FUNCTION alerts_before_update();

-- The older version records status changes in alert_history only; during
-- a deploy its changes reach the timeline through this. This version
-- writes no alert_history.
CREATE FUNCTION alert_history_to_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO alert_timeline (alert_id, kind, at, actor_user, from_status, to_status, event_id)
    VALUES (NEW.alert_id, 'status_changed', NEW.changed_at, NEW.changed_by,
            NEW.from_status, NEW.to_status, NEW.event_id);
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_history_to_timeline AFTER INSERT ON alert_history
    FOR EACH ROW EXECUTE FUNCTION alert_history_to_timeline();

-- What came before: each alert's creation and every recorded status change
-- (those of alerts deleted since included), in the order they happened.
INSERT INTO alert_timeline (alert_id, kind, at, actor_user, from_status, to_status,
                            to_severity, event_id)
SELECT alert_id, kind, at, actor_user, from_status, to_status, to_severity, event_id
FROM (
    SELECT id AS alert_id, 'created'::timeline_kind AS kind, created_at AS at,
           NULL::bigint AS actor_user, NULL::alert_status AS from_status,
           'Open'::alert_status AS to_status, severity AS to_severity, event_id, 0 AS rank,
           0::bigint AS seq
    FROM alerts
    UNION ALL
    SELECT alert_id, 'status_changed', changed_at, changed_by, from_status, to_status,
           NULL, event_id, 1, id
    FROM alert_history
) past
ORDER BY at, alert_id, rank, seq;

-- The lifecycle's times of alerts from before, as well as the history knows
-- them.
UPDATE alerts a SET acknowledged_at = h.acknowledged_at,
    resolved_at = CASE WHEN a.status = 'Resolved' THEN h.resolved_at END
FROM (
    SELECT alert_id,
           min(changed_at) FILTER (WHERE to_status = 'Acknowledged') AS acknowledged_at,
           max(changed_at) FILTER (WHERE to_status = 'Resolved') AS resolved_at
    FROM alert_history GROUP BY alert_id
) h
WHERE a.id = h.alert_id;
