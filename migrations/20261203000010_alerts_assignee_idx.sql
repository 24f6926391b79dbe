-- no-transaction
-- `?assignee=` lists, newest first, and the open alerts per assignee of
-- the stats. Built concurrently, one index per file (see
-- 20261202000007_alerts_open_dedup_key.sql).
CREATE INDEX CONCURRENTLY IF NOT EXISTS alerts_assignee_created_idx
    ON alerts (assignee_id, created_at DESC, id DESC);
