-- Mirrors shared/src/store/alerts.rs `list` (select_alerts! + the page of ids
-- from push_filters + push_page, no event filter) as
-- GET /api/alerts/?severity=High&status=Open runs it: same statement (a
-- one-value filter is a plain equality; LIMIT and OFFSET are written in),
-- same parameter types as sqlx binds them. Keep in step.
-- psql variables: offset (rows skipped: 0 for the first page).
PREPARE bench_query(alert_status, severity) AS
SELECT a.id, a.event_id AS event, e.source, e.event_type, a.severity,
       e.description, e.timestamp, a.status, a.created_at, a.updated_at
FROM alerts a JOIN events e ON e.id = a.event_id
WHERE a.id IN (SELECT a.id FROM alerts a
               WHERE TRUE AND a.status = $1 AND a.severity = $2
               ORDER BY a.created_at DESC, a.id DESC LIMIT 20 OFFSET :offset)
ORDER BY a.created_at DESC, a.id DESC;

EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_query('Open', 'High');
