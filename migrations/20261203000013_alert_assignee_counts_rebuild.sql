-- alert_assignee_counts is rewritten on every alert write, as alert_counts
-- is (20261124000005_alert_counts_rebuild.sql): the same room for HOT
-- updates and the same eager vacuuming, so its few live rows stay together.
-- (The stats' open alerts per assignee are a sum over this table, not a
-- scan of alerts_assignee_created_idx as 20261203000010's comment says; that
-- index serves `?assignee=` lists.)
ALTER TABLE alert_assignee_counts SET (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000
);

-- Recomputes the per-assignee counts from the alerts, for an operator after
-- anything the triggers do not see (a data-only restore, surgery with
-- triggers disabled) or counts found wrong. Locks the alerts against writes
-- while it runs, so the result is exact.
-- Usage: SELECT alert_assignee_counts_rebuild();
CREATE FUNCTION alert_assignee_counts_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE alerts IN SHARE MODE;
    DELETE FROM alert_assignee_counts;
    INSERT INTO alert_assignee_counts (assignee_id, status, shard, n)
    SELECT COALESCE(assignee_id, 0), status, (id % 16)::smallint, count(*)
    FROM alerts GROUP BY 1, 2, 3;
END
$$;
