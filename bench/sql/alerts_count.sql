-- Mirrors shared/src/store/alerts.rs `count` (no event filter, so no join)
-- as GET /api/alerts/?severity=High&status=Open runs it before every page.
-- Keep in step.
PREPARE bench_query(alert_status[], severity[]) AS
SELECT count(*) FROM alerts a WHERE TRUE AND a.status = ANY($1) AND a.severity = ANY($2);

EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_query('{Open}', '{High}');
