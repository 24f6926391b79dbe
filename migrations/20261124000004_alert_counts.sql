-- Exact alert counts per (severity, status), kept by triggers, so the
-- `count` of a triage list filtered on severity and status (the common case)
-- is a sum over a few dozen rows instead of a count over a third of all
-- alerts. Counts are updated in the same transaction as the alerts, so a
-- reader's snapshot sees counts and alerts that agree.
--
-- Each (severity, status) is split over 16 shards (the alert's id mod 16) so
-- that concurrent inserts, which get consecutive ids, lock different rows.

CREATE TABLE alert_counts (
    severity severity     NOT NULL,
    status   alert_status NOT NULL,
    shard    SMALLINT     NOT NULL CHECK (shard BETWEEN 0 AND 15),
    n        BIGINT       NOT NULL,
    PRIMARY KEY (severity, status, shard)
);

-- Applies a statement's net change per counter row. Rows are written in key
-- order, so two statements touching the same counters (a status change and
-- its reverse, say) take their locks in the same order and cannot deadlock.
CREATE FUNCTION alert_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO alert_counts (severity, status, shard, n)
        SELECT severity, status, (id % 16)::smallint, count(*)
        FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (severity, status, shard) DO UPDATE SET n = alert_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO alert_counts (severity, status, shard, n)
        SELECT severity, status, (id % 16)::smallint, -count(*)
        FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (severity, status, shard) DO UPDATE SET n = alert_counts.n + EXCLUDED.n;
    ELSE
        INSERT INTO alert_counts (severity, status, shard, n)
        SELECT severity, status, shard, sum(delta)
        FROM (
            SELECT severity, status, (id % 16)::smallint AS shard, 1 AS delta FROM new_rows
            UNION ALL
            SELECT severity, status, (id % 16)::smallint, -1 FROM old_rows
        ) changes
        GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (severity, status, shard) DO UPDATE SET n = alert_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_counts_insert AFTER INSERT ON alerts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_counts_apply();
CREATE TRIGGER alert_counts_delete AFTER DELETE ON alerts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_counts_apply();
CREATE TRIGGER alert_counts_update AFTER UPDATE ON alerts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_counts_apply();

-- TRUNCATE would bypass the triggers above; clear the counts with it.
CREATE FUNCTION alert_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM alert_counts;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_counts_truncate AFTER TRUNCATE ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alert_counts_clear();

INSERT INTO alert_counts (severity, status, shard, n)
SELECT severity, status, (id % 16)::smallint, count(*) FROM alerts GROUP BY 1, 2, 3;
