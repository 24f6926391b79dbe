-- The audit log: who did what, from where, to what, written in the same
-- transaction as the change it records (a rolled-back change leaves no
-- row, and no change commits without its row).
--
-- Append-only: the application role may read and append (below), never
-- update or delete, so not even a bug in the API can rewrite it; only the
-- owner (migrations) could. Additive: an older version running during a
-- deploy writes no rows, and nothing it does needs this table.

-- What happened. A later issue adds its own with ALTER TYPE ... ADD VALUE.
CREATE TYPE audit_action AS ENUM (
    'event.created', 'event.batch_created', 'event.updated', 'event.deleted',
    'alert.updated', 'alert.commented', 'alert.bulk_updated',
    'user.created', 'user.updated', 'user.password_reset', 'user.password_changed',
    'key.created', 'key.revoked',
    'silence.created', 'silence.ended',
    'session.ended', 'session.reuse_detected',
    'sign_in.succeeded', 'sign_in.failed', 'sign_in.locked_out',
    'signing_key.rotated', 'app_login.provisioned'
);

-- What it happened to.
CREATE TYPE audit_target AS ENUM
    ('event', 'alert', 'user', 'key', 'silence', 'session', 'signing_key', 'app_login');

-- Through what: the HTTP API, `tmctl` on an operator's machine, or the
-- admin Lambda function (migrations, break-glass user commands).
CREATE TYPE audit_via AS ENUM ('api', 'tmctl', 'admin');

-- The actor is a user, an ingest key, or neither (an operator's tool).
-- No foreign keys: a row outlives anything it names, and users and keys
-- are never deleted anyway (deactivated, revoked). `target_id` is NULL
-- for a batch, whose rows' ids are in `detail`.
CREATE TABLE audit_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_user  BIGINT,
    actor_key   BIGINT,
    via         audit_via NOT NULL,
    address     INET,
    action      audit_action NOT NULL,
    target_type audit_target NOT NULL,
    target_id   BIGINT,
    detail      JSONB NOT NULL DEFAULT '{}',
    CHECK (num_nonnulls(actor_user, actor_key) <= 1)
);

-- `GET /api/audit/` reads newest first by id, whole or for one actor or
-- one target; the primary key serves the rest (action, since/until are
-- filtered along it: the log is read by people, rarely).
CREATE INDEX audit_log_actor_user_idx ON audit_log (actor_user, id) WHERE actor_user IS NOT NULL;
CREATE INDEX audit_log_actor_key_idx ON audit_log (actor_key, id) WHERE actor_key IS NOT NULL;
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, id);
-- A locked-out address's refusals are recorded once a minute: the check
-- for a recent one reads this.
CREATE INDEX audit_log_lockouts_idx ON audit_log (address, at) WHERE action = 'sign_in.locked_out';

GRANT SELECT, INSERT ON audit_log TO threatmon_app;
GRANT USAGE ON SEQUENCE audit_log_id_seq TO threatmon_app;
