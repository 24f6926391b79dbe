-- no-transaction
-- The changes feed: `?ordering=updated_at&updated_since=`, oldest change
-- first, `id` breaking ties.
CREATE INDEX CONCURRENTLY IF NOT EXISTS alerts_updated_id_idx ON alerts (updated_at, id);
