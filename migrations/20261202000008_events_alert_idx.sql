-- no-transaction
-- `GET /api/alerts/{id}/events/`, newest first; only attached events have
-- an alert_id. Built concurrently, as the previous migration says why.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_alert_idx
    ON events (alert_id, "timestamp" DESC, id DESC) WHERE alert_id IS NOT NULL;
