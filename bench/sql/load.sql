-- Adds :count synthetic events, and the alert the API would have raised for
-- each High or Critical one, to the bench database. bench/run runs it as
--   psql -v ON_ERROR_STOP=1 --single-transaction -v count=N -f bench/sql/load.sql
-- and runs VACUUM ANALYZE afterwards (which cannot run inside a transaction).
--
-- Plain INSERT ... SELECT rather than COPY or direct index builds, so that any
-- trigger a later migration puts on events or alerts (a counter table, say)
-- fires as it would for the API's writes. Only rows above the current highest
-- id are touched, so a second run grows the data set instead of reloading it.

SELECT coalesce(max(id), 0) AS before_id FROM events \gset

-- Each column draws its own random() in the inner query; a volatile target
-- list keeps PostgreSQL from inlining it, so every CASE below sees one draw.
-- Rows are inserted oldest first, so ids grow with time as they do when the
-- API stores events as they arrive (the table's physical order then matches
-- the timestamp index, as it would in production).
INSERT INTO events (source, event_type, severity, description, "timestamp")
SELECT
    -- ~200 sensors, a few of them much noisier than the rest.
    'sensor-' || lpad(floor(200 * power(r_source, 2))::int::text, 3, '0'),
    CASE WHEN r_type < 0.40 THEN 'intrusion'
         WHEN r_type < 0.65 THEN 'malware'
         ELSE 'anomaly' END::event_type,
    -- Low 35%, Medium 25%, High 28%, Critical 12%: ~40% raise an alert.
    CASE WHEN r_severity < 0.35 THEN 'Low'
         WHEN r_severity < 0.60 THEN 'Medium'
         WHEN r_severity < 0.88 THEN 'High'
         ELSE 'Critical' END::severity,
    -- Tens to a few hundred characters, most of them short: a template
    -- with a random-length hex tail (indicators, hashes) varies the row width.
    format('%s on host-%s from 198.51.100.%s to port %s: %s',
           (ARRAY['port scan', 'failed logins', 'suspicious binary',
                  'outbound beacon', 'privilege escalation attempt',
                  'unusual data transfer', 'signature match',
                  'DNS tunnelling pattern'])[1 + floor(r_kind * 8)::int],
           floor(r_host * 5000)::int,
           floor(r_ip * 254)::int + 1,
           (ARRAY[22, 53, 80, 443, 445, 3389, 8080])[1 + floor(r_port * 7)::int],
           left(repeat(md5(r_text::text), 10), floor(power(r_len, 2) * 300)::int)),
    ts
FROM (
    SELECT random() AS r_source, random() AS r_type, random() AS r_severity,
           random() AS r_kind, random() AS r_host, random() AS r_ip,
           random() AS r_port, random() AS r_text, random() AS r_len,
           now() - random() * interval '90 days' AS ts
    FROM generate_series(1, :count)
) draws
ORDER BY ts;

-- One alert per new High or Critical event, created when the event was, as
-- the API's create does (at version 1, with its `created` timeline entry);
-- statuses as a triage queue would have them, each reached within two days
-- (acknowledged_at and resolved_at as the lifecycle trigger keeps them).
SELECT coalesce(max(id), 0) AS before_alert FROM alerts \gset
INSERT INTO alerts (event_id, severity, status, created_at, updated_at, version,
                    acknowledged_at, resolved_at)
SELECT id, severity, status, "timestamp", changed, 1,
       CASE WHEN status = 'Acknowledged' OR (status = 'Resolved' AND r_path < 0.5)
            THEN least(changed, "timestamp" + r_ack * (changed - "timestamp")) END,
       CASE WHEN status = 'Resolved' THEN changed END
FROM (
    SELECT *, CASE WHEN status = 'Open' THEN "timestamp"
                   ELSE least(now(), "timestamp" + r_delay * interval '2 days') END AS changed
    FROM (
        SELECT id, severity, "timestamp", random() AS r_delay, random() AS r_ack, random() AS r_path,
               CASE WHEN r_status < 0.50 THEN 'Open'
                    WHEN r_status < 0.75 THEN 'Acknowledged'
                    ELSE 'Resolved' END::alert_status AS status
        FROM (SELECT e.*, random() AS r_status FROM events e
              WHERE e.id > :before_id AND e.severity >= 'High') new_events
    ) drawn
) timed
ORDER BY id;

INSERT INTO alert_timeline (alert_id, kind, at, event_id, to_status, to_severity)
SELECT id, 'created', created_at, event_id, 'Open', severity
FROM alerts WHERE id > :before_alert ORDER BY id;
