-- Mirrors shared/src/store/events.rs `list` (select_events! + push_filters +
-- ORDER BY/LIMIT/OFFSET) as GET /api/events/?since=..&until=.. runs it for
-- the first page. Keep in step.
-- psql variables: since, until (RFC 3339).
PREPARE bench_query(timestamptz, timestamptz) AS
SELECT e.id, e.source, e.event_type, e.severity, e.description, e.timestamp,
       a.id AS alert
FROM events e LEFT JOIN alerts a ON a.event_id = e.id
WHERE TRUE AND e.timestamp >= $1 AND e.timestamp <= $2
ORDER BY e.timestamp DESC, e.id DESC LIMIT 20 OFFSET 0;

EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_query(:'since', :'until');
