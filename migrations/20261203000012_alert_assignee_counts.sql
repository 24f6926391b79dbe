-- Exact counts of alerts per (assignee, status), kept by triggers as
-- alert_counts is (see 20261124000004_alert_counts.sql, whose sharding and
-- lock ordering this follows), so that the stats' open alerts per assignee
-- is a sum over a few rows however many alerts there are. assignee_id 0
-- stands for unassigned (a primary key cannot hold NULL; no user has id 0).

CREATE TABLE alert_assignee_counts (
    assignee_id BIGINT       NOT NULL,
    status      alert_status NOT NULL,
    shard       SMALLINT     NOT NULL CHECK (shard BETWEEN 0 AND 15),
    n           BIGINT       NOT NULL,
    PRIMARY KEY (assignee_id, status, shard)
);

CREATE FUNCTION alert_assignee_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO alert_assignee_counts (assignee_id, status, shard, n)
        SELECT COALESCE(assignee_id, 0), status, (id % 16)::smallint, count(*)
        FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (assignee_id, status, shard) DO UPDATE SET n = alert_assignee_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO alert_assignee_counts (assignee_id, status, shard, n)
        SELECT COALESCE(assignee_id, 0), status, (id % 16)::smallint, -count(*)
        FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (assignee_id, status, shard) DO UPDATE SET n = alert_assignee_counts.n + EXCLUDED.n;
    ELSE
        INSERT INTO alert_assignee_counts (assignee_id, status, shard, n)
        SELECT assignee_id, status, shard, sum(delta)
        FROM (
            SELECT COALESCE(assignee_id, 0) AS assignee_id, status, (id % 16)::smallint AS shard,
                   1 AS delta FROM new_rows
            UNION ALL
            SELECT COALESCE(assignee_id, 0), status, (id % 16)::smallint, -1 FROM old_rows
        ) changes
        GROUP BY 1, 2, 3 HAVING sum(delta) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (assignee_id, status, shard) DO UPDATE SET n = alert_assignee_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_assignee_counts_insert AFTER INSERT ON alerts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_assignee_counts_apply();
CREATE TRIGGER alert_assignee_counts_delete AFTER DELETE ON alerts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_assignee_counts_apply();
-- Every update (a trigger with transition tables cannot name columns); one
-- that moves no count, such as a deduplicating upsert, writes nothing.
CREATE TRIGGER alert_assignee_counts_update AFTER UPDATE ON alerts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_assignee_counts_apply();

CREATE FUNCTION alert_assignee_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM alert_assignee_counts;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_assignee_counts_truncate AFTER TRUNCATE ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alert_assignee_counts_clear();

INSERT INTO alert_assignee_counts (assignee_id, status, shard, n)
SELECT COALESCE(assignee_id, 0), status, (id % 16)::smallint, count(*) FROM alerts GROUP BY 1, 2, 3;
