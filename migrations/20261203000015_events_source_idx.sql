-- no-transaction
-- `?source=` on events and on alerts (through their event): without it, an
-- analyst's `GET /api/alerts/?source=x&page=last` read every event (a
-- parallel scan of all of them, ~130 ms at 1M events, for each of the
-- count and the page). With it, a source's events are read in the lists'
-- own order. event_type gets none: it has three values, so an index would
-- select a third of the table and the planner would rightly ignore it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_source_timestamp_idx
    ON events (source, "timestamp" DESC, id DESC);
