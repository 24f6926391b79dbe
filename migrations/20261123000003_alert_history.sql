-- Every status change of an alert: who moved it, from what, to what, when.
-- Concurrent changes are applied one after the other (the alert row is
-- locked); each leaves its line here, so none is lost without a trace.
CREATE TABLE alert_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    from_status alert_status NOT NULL,
    to_status   alert_status NOT NULL,
    -- Kept if the user is later removed from the table by hand.
    changed_by  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX alert_history_alert_idx ON alert_history (alert_id, id);
