-- Every status change of an alert: who moved it, from what, to what, when.
-- Concurrent changes are applied one after the other (the alert row is
-- locked); each leaves its line here, so none is lost without a trace.
-- No foreign keys: the record outlives a deleted event (and its alert) or
-- user, which is when an audit trail matters.
CREATE TABLE alert_history (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id    BIGINT NOT NULL,
    event_id    BIGINT NOT NULL,
    from_status alert_status NOT NULL,
    to_status   alert_status NOT NULL,
    changed_by  BIGINT NOT NULL,
    changed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX alert_history_alert_idx ON alert_history (alert_id, id);
CREATE INDEX alert_history_user_idx ON alert_history (changed_by);
