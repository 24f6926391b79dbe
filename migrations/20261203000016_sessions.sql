-- Sign-in sessions. Each sign-in starts one; its refresh token rotates on
-- every use, and only the newest (refresh_jti) may be used: a refresh
-- token presented again after it was rotated means two holders, and ends
-- the session for both. Logout, an operator's password change or reset, a
-- role change and a deactivation end sessions too; every access token
-- names its session and is checked against it on each request, so an
-- ended session's access tokens stop at once.

-- Raised by every change that ends a user's sessions. A session records the
-- value its sign-in read with the password hash, and is live only while
-- they agree: a sign-in whose password check was still running when the
-- password changed (or the user was deactivated) inserts its session after
-- the change ended the others, and this is what ends it.
ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sessions (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id        BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_jti    TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- users.session_epoch as the sign-in read it.
    user_epoch     INTEGER     NOT NULL,
    -- The newest refresh token's expiry; each rotation moves it on, never
    -- past ends_by.
    expires_at     TIMESTAMPTZ NOT NULL,
    -- However often it is refreshed, a session ends by then
    -- (SESSION_MAX_LIFETIME after the sign-in).
    ends_by        TIMESTAMPTZ NOT NULL,
    ended_at       TIMESTAMPTZ,
    ended_because  TEXT CHECK (ended_because IN
                       ('logout', 'ended_by_user', 'refresh_reused', 'password_changed',
                        'role_changed', 'deactivated')),
    -- Where it was started from, for the owner's list of sessions.
    client_address TEXT,
    user_agent     TEXT,
    CHECK ((ended_at IS NULL) = (ended_because IS NULL))
);

-- A user's live sessions (the list, and ending them all).
CREATE INDEX sessions_user_live_idx ON sessions (user_id, id) WHERE ended_at IS NULL;
-- Purging the long expired or ended.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_ended_idx ON sessions (ended_at) WHERE ended_at IS NOT NULL;
