-- Failed sign-ins per submitted username, whether or not such a user
-- exists, so that password guessing is throttled across every Lambda
-- instance alike and the throttle itself reveals no account.
CREATE TABLE login_throttle (
    username          TEXT PRIMARY KEY,
    failures          INTEGER NOT NULL,
    window_started_at TIMESTAMPTZ NOT NULL,
    -- Set once `failures` reaches the limit within the window.
    locked_until      TIMESTAMPTZ
);

-- Old rows are swept by age.
CREATE INDEX login_throttle_window_idx ON login_throttle (window_started_at);
