-- alert_counts is rewritten on every alert write: keep room on its pages for
-- the new row versions (HOT updates) and vacuum it often, or the few dozen
-- live rows end up spread over many dead ones.
ALTER TABLE alert_counts SET (
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000
);

-- Recomputes the counts from the alerts, for an operator after anything the
-- triggers do not see: a data-only restore (which brings both the alerts and
-- their counts) or counts found wrong. Locks the alerts against writes while
-- it runs, so the result is exact. Usage: SELECT alert_counts_rebuild();
CREATE FUNCTION alert_counts_rebuild() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE alerts IN SHARE MODE;
    DELETE FROM alert_counts;
    INSERT INTO alert_counts (severity, status, shard, n)
    SELECT severity, status, (id % 16)::smallint, count(*) FROM alerts GROUP BY 1, 2, 3;
END
$$;
