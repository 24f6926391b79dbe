-- Mirrors shared/src/store/events.rs `count` as GET /api/events/?since=..&until=..
-- runs it before every page. Keep in step.
-- psql variables: since, until (RFC 3339).
PREPARE bench_query(timestamptz, timestamptz) AS
SELECT count(*) FROM events e WHERE TRUE AND e.timestamp >= $1 AND e.timestamp <= $2;

EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_query(:'since', :'until');
