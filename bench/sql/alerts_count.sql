-- Mirrors shared/src/store/alerts.rs `count` for a severity/status filter
-- (no event filter, no time range): the sum of the trigger-kept
-- alert_counts, as GET /api/alerts/?severity=High&status=Open runs it before
-- every page. Keep in step.
PREPARE bench_query(alert_status, severity) AS
SELECT COALESCE(sum(n), 0)::bigint FROM alert_counts
WHERE TRUE AND status = $1 AND severity = $2;

EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_query('Open', 'High');
