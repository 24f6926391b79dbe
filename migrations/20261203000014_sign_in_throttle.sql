-- Failed sign-ins per (client address, username) and per client address
-- alone (username ''), in place of login_throttle's count per username,
-- which let anyone lock any named user out from anywhere. The address is
-- the client's IPv4 address or its IPv6 /64, as text ("unknown" when the
-- request shows none). A username is never blank, so '' names no user.
-- login_throttle stays while an older version may still run; nothing of
-- this version reads or writes it.
CREATE TABLE sign_in_throttle (
    address           TEXT        NOT NULL,
    username          TEXT        NOT NULL,
    failures          INTEGER     NOT NULL,
    window_started_at TIMESTAMPTZ NOT NULL,
    -- Set once `failures` passes the limit within the window.
    locked_until      TIMESTAMPTZ,
    -- Lockouts so far, each twice as long as the one before (up to a cap).
    lockouts          INTEGER     NOT NULL DEFAULT 0,
    PRIMARY KEY (address, username)
);

-- Old rows are swept by age; an operator's new password or reactivation
-- lifts a user's lockouts at every address.
CREATE INDEX sign_in_throttle_window_idx ON sign_in_throttle (window_started_at);
CREATE INDEX sign_in_throttle_username_idx ON sign_in_throttle (username);
