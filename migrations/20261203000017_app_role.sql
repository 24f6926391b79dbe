-- The application's database role: the API functions and `tmctl serve`
-- connect as a login role that is a member of `threatmon_app`, which holds
-- only the DML the API needs. It owns nothing and may create nothing, so a
-- bug that lets SQL through cannot alter the schema; it can only append to
-- the alert timeline and the old alert history, never change or delete
-- their rows. Only migrations (the admin function, `tmctl migrate`) run as
-- the owner.
--
-- Roles belong to the whole server, not to one database: the role may
-- already exist (another database of the same server, a test run beside
-- this one), and two migrations racing to create it are both fine.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'threatmon_app') THEN
        CREATE ROLE threatmon_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO threatmon_app;

-- Rows the API creates, changes and removes.
GRANT SELECT, INSERT, UPDATE, DELETE ON
    events, alerts, alert_counts, alert_assignee_counts, idempotency_keys,
    sessions, sign_in_throttle
TO threatmon_app;

-- Rows the API creates and changes but never deletes: a user is
-- deactivated, a key revoked, a silence ended, each keeping its record.
GRANT SELECT, INSERT, UPDATE ON users, ingest_keys, silences TO threatmon_app;

-- Append-only: what happened to an alert is never rewritten. (Deleting an
-- event removes its alert's rows through the foreign keys, which
-- PostgreSQL runs as the tables' owner, not as this role.)
GRANT SELECT, INSERT ON alert_timeline, alert_comments, alert_history TO threatmon_app;

GRANT USAGE ON SEQUENCE
    events_id_seq, alerts_id_seq, alert_comments_id_seq, alert_history_id_seq,
    alert_timeline_id_seq, ingest_keys_id_seq, sessions_id_seq, silences_id_seq,
    users_id_seq
TO threatmon_app;
