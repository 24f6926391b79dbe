-- The stats' figures kept ahead of time, so that a window's counts, times and
-- medians are sums over a few hundred rows instead of a scan (and two sorts)
-- of every alert raised in it.
--
-- Alerts are rolled up by the hour and by the UTC day they were raised in:
-- per status and severity, how many there are, how many were acknowledged and
-- resolved, and the sum of those times in microseconds (exact, so a mean is
-- exact); and per period, a histogram of each time, for medians. A window is
-- then whole days, whole hours at its ends, and the alerts of at most half an
-- hour at each edge read from `alerts` itself (see shared/src/store/stats/).
--
-- Kept by statement triggers in the writer's own transaction, as alert_counts
-- is, so a reader's snapshot sees rollups and alerts that agree. Every insert
-- lands in the current hour and day, so those rows are split over 16 shards,
-- by the writing backend's pid rather than (as alert_counts does) the alert's
-- id: a batch of alerts then locks one shard, not all 16, and concurrent
-- writers mostly lock other shards (a shard holds any share of a sum;
-- readers add them all). Once a period is over, its shards are folded into shard 0
-- (alert_stats_fold, which the write path calls now and then), so a closed
-- period is one row per status and severity.

CREATE TYPE stats_span AS ENUM ('hour', 'day');

CREATE TABLE alert_stats (
    span       stats_span   NOT NULL,
    period     TIMESTAMPTZ  NOT NULL,
    severity   severity     NOT NULL,
    status     alert_status NOT NULL,
    shard      SMALLINT     NOT NULL CHECK (shard BETWEEN 0 AND 15),
    n          BIGINT       NOT NULL,
    -- with acknowledged_at, and the sum of acknowledged_at - created_at in
    -- µs; NUMERIC, as a million alerts a year old would pass a bigint
    acked      BIGINT       NOT NULL,
    ack_us     NUMERIC      NOT NULL,
    -- Resolved with resolved_at, and the sum of resolved_at - created_at
    resolved   BIGINT       NOT NULL,
    resolve_us NUMERIC      NOT NULL,
    PRIMARY KEY (span, period, severity, status, shard)
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX alert_stats_unfolded ON alert_stats (period) WHERE shard > 0;

-- Bucket b >= 1 holds times in [2^((b-1)/16), 2^(b/16)) seconds, bucket 0
-- those under a second and bucket 400 everything from 2^(399/16) s (a year)
-- on: a median read as its bucket's geometric middle is within 2.2% (or half
-- a second) of the exact one. counts[b + 1] is bucket b (arrays start at 1).
CREATE TABLE alert_stats_hist (
    span   stats_span NOT NULL,
    period TIMESTAMPTZ NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('acknowledge', 'resolve')),
    counts INTEGER[] NOT NULL CHECK (cardinality(counts) = 401),
    PRIMARY KEY (span, period, kind)
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);

-- In floating point (date_part, not numeric's extract, which costs several
-- µs a time): a time exactly on a bucket's edge may fall either side of it,
-- which the bound allows. Seconds are exact to the µs below 285 years.
CREATE FUNCTION alert_stats_bucket(took INTERVAL) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN date_part('epoch', took) < 1 THEN 0
                ELSE least(400, 1 + floor(16 * ln(date_part('epoch', took)) / ln(2.0::float8))::int) END
$$;

CREATE FUNCTION alert_stats_us(took INTERVAL) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(date_part('epoch', took) * 1000000)::bigint
$$;

-- The UTC hour or day of `at`, by date_bin (whole-number arithmetic), not
-- date_trunc with a time zone, which converts twice on every row.
CREATE FUNCTION alert_stats_period(span stats_span, at TIMESTAMPTZ) RETURNS TIMESTAMPTZ
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin(CASE span WHEN 'hour' THEN interval '1 hour' ELSE interval '1 day' END,
                    at, timestamptz '2000-01-01 00:00:00+00')
$$;

CREATE FUNCTION alert_stats_hist_add(a INTEGER[], b INTEGER[]) RETURNS INTEGER[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(x + y ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS t(x, y, i)
$$;

-- Adds `added` and takes away `removed` (a statement's new and old rows).
-- Rows are written in key order, so writers touching the same rows take
-- their locks in the same order and cannot deadlock; a change that moves no
-- figure (a deduplicating upsert) writes nothing.
CREATE FUNCTION alert_stats_take(added alerts[], removed alerts[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH changed AS (
        SELECT 1 AS sign, a.id, a.created_at, a.severity, a.status,
               a.acknowledged_at - a.created_at AS to_ack,
               CASE WHEN a.status = 'Resolved' THEN a.resolved_at - a.created_at END AS to_resolve
        FROM unnest(added) a
        UNION ALL
        SELECT -1, r.id, r.created_at, r.severity, r.status,
               r.acknowledged_at - r.created_at,
               CASE WHEN r.status = 'Resolved' THEN r.resolved_at - r.created_at END
        FROM unnest(removed) r
    ), placed AS (
        SELECT c.*, s.span, alert_stats_period(s.span, c.created_at) AS period,
               CASE WHEN alert_stats_period(s.span, c.created_at)
                         = alert_stats_period(s.span, now())
                    THEN (pg_backend_pid() % 16)::smallint ELSE 0::smallint END AS shard
        FROM changed c CROSS JOIN (VALUES ('hour'::stats_span), ('day'::stats_span)) s(span)
    )
    INSERT INTO alert_stats AS t (span, period, severity, status, shard,
                                  n, acked, ack_us, resolved, resolve_us)
    SELECT * FROM (
        SELECT span, period, severity, status, shard, sum(sign) AS n,
               sum(CASE WHEN to_ack IS NOT NULL THEN sign ELSE 0 END) AS acked,
               coalesce(sum(sign * alert_stats_us(to_ack)), 0) AS ack_us,
               sum(CASE WHEN to_resolve IS NOT NULL THEN sign ELSE 0 END) AS resolved,
               coalesce(sum(sign * alert_stats_us(to_resolve)), 0) AS resolve_us
        FROM placed GROUP BY 1, 2, 3, 4, 5
    ) d
    WHERE n <> 0 OR acked <> 0 OR ack_us <> 0 OR resolved <> 0 OR resolve_us <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (span, period, severity, status, shard) DO UPDATE SET
        n = t.n + EXCLUDED.n,
        acked = t.acked + EXCLUDED.acked,
        ack_us = t.ack_us + EXCLUDED.ack_us,
        resolved = t.resolved + EXCLUDED.resolved,
        resolve_us = t.resolve_us + EXCLUDED.resolve_us;

    -- An insert has no times yet: the common write skips the histograms.
    IF NOT EXISTS (SELECT 1 FROM unnest(added) a WHERE a.acknowledged_at IS NOT NULL
                                                    OR a.resolved_at IS NOT NULL)
       AND NOT EXISTS (SELECT 1 FROM unnest(removed) r WHERE r.acknowledged_at IS NOT NULL
                                                         OR r.resolved_at IS NOT NULL) THEN
        RETURN;
    END IF;
    WITH changed AS (
        SELECT 1 AS sign, a.* FROM unnest(added) a
        UNION ALL
        SELECT -1, r.* FROM unnest(removed) r
    ), times AS (
        SELECT sign, created_at, 'acknowledge' AS kind, acknowledged_at - created_at AS took
        FROM changed WHERE acknowledged_at IS NOT NULL
        UNION ALL
        SELECT sign, created_at, 'resolve', resolved_at - created_at
        FROM changed WHERE status = 'Resolved' AND resolved_at IS NOT NULL
    ), deltas AS (
        SELECT s.span, alert_stats_period(s.span, t.created_at) AS period, t.kind,
               alert_stats_bucket(t.took) AS bucket, sum(t.sign)::int AS n
        FROM times t CROSS JOIN (VALUES ('hour'::stats_span), ('day'::stats_span)) s(span)
        GROUP BY 1, 2, 3, 4 HAVING sum(t.sign) <> 0
    ), grouped AS (
        SELECT span, period, kind, array_agg(bucket) AS buckets, array_agg(n) AS ns
        FROM deltas GROUP BY 1, 2, 3
    )
    INSERT INTO alert_stats_hist AS h (span, period, kind, counts)
    SELECT span, period, kind,
           (SELECT array_agg(coalesce(x.n, 0) ORDER BY g)
            FROM generate_series(0, 400) g
            LEFT JOIN unnest(buckets, ns) x(bucket, n) ON x.bucket = g)
    FROM grouped ORDER BY 1, 2, 3
    ON CONFLICT (span, period, kind) DO UPDATE
        SET counts = alert_stats_hist_add(h.counts, EXCLUDED.counts);
END
$$;

-- An insert (every alert the API raises) takes the short way: new alerts
-- have no times yet, so only counts move, summed straight from the
-- transition table. An update that moves no figure (a deduplicating
-- upsert, an assignment) stops at the first check.
CREATE FUNCTION alert_stats_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM new_rows WHERE acknowledged_at IS NOT NULL
                                             OR resolved_at IS NOT NULL) THEN
            PERFORM alert_stats_take(ARRAY(SELECT n::alerts FROM new_rows n), '{}');
            RETURN NULL;
        END IF;
        INSERT INTO alert_stats AS t (span, period, severity, status, shard,
                                      n, acked, ack_us, resolved, resolve_us)
        SELECT s.span, alert_stats_period(s.span, n.created_at), n.severity, n.status,
               CASE WHEN alert_stats_period(s.span, n.created_at)
                         = alert_stats_period(s.span, now())
                    THEN (pg_backend_pid() % 16)::smallint ELSE 0::smallint END,
               count(*), 0, 0, 0, 0
        FROM new_rows n CROSS JOIN (VALUES ('hour'::stats_span), ('day'::stats_span)) s(span)
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (span, period, severity, status, shard) DO UPDATE SET n = t.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM alert_stats_take('{}', ARRAY(SELECT o::alerts FROM old_rows o));
    ELSIF EXISTS (
        SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.created_at, n.severity, n.status, n.acknowledged_at, n.resolved_at)
              IS DISTINCT FROM (o.created_at, o.severity, o.status, o.acknowledged_at, o.resolved_at)
    ) THEN
        PERFORM alert_stats_take(ARRAY(SELECT n::alerts FROM new_rows n),
                                 ARRAY(SELECT o::alerts FROM old_rows o));
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER alert_stats_insert AFTER INSERT ON alerts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_stats_apply();
CREATE TRIGGER alert_stats_delete AFTER DELETE ON alerts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_stats_apply();
CREATE TRIGGER alert_stats_update AFTER UPDATE ON alerts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION alert_stats_apply();

CREATE FUNCTION alert_stats_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE alert_stats, alert_stats_hist IN EXCLUSIVE MODE;
    DELETE FROM alert_stats;
    DELETE FROM alert_stats_hist;
    RETURN NULL;
END
$$;
CREATE TRIGGER alert_stats_truncate AFTER TRUNCATE ON alerts
    FOR EACH STATEMENT EXECUTE FUNCTION alert_stats_clear();

-- Folds the shards of periods that ended ten minutes ago or more into shard
-- 0 and returns how many rows it folded. No write of the application's
-- lasts that long (statements time out within 5 s), so no writer whose
-- transaction began inside such a period is still adding to its shards, and
-- the rows the fold deletes are nobody else's; rows locked all the same are
-- skipped, and a shard-0 row a writer holds makes it give up (lock_timeout)
-- rather than hold up the request that ran it. One fold at a time (others
-- return 0 at once). Correct at any moment: readers sum every shard.
CREATE FUNCTION alert_stats_fold() RETURNS BIGINT LANGUAGE plpgsql
SET lock_timeout = '200ms' AS $$
DECLARE
    folded BIGINT;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7204301719) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM alert_stats WHERE ctid IN (
            SELECT ctid FROM alert_stats
            WHERE shard > 0 AND period < alert_stats_period('hour', now() - interval '10 minutes')
              AND (span = 'hour' OR period < alert_stats_period('day', now() - interval '10 minutes'))
            FOR UPDATE SKIP LOCKED)
        RETURNING *
    ), moved AS (
        INSERT INTO alert_stats AS t (span, period, severity, status, shard,
                                      n, acked, ack_us, resolved, resolve_us)
        SELECT span, period, severity, status, 0, sum(n), sum(acked), sum(ack_us),
               sum(resolved), sum(resolve_us)
        FROM gone GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (span, period, severity, status, shard) DO UPDATE SET
            n = t.n + EXCLUDED.n, acked = t.acked + EXCLUDED.acked,
            ack_us = t.ack_us + EXCLUDED.ack_us, resolved = t.resolved + EXCLUDED.resolved,
            resolve_us = t.resolve_us + EXCLUDED.resolve_us
    )
    SELECT count(*) INTO folded FROM gone;
    RETURN folded;
END
$$;

-- Recomputes the rollups from the alerts, for an operator after anything the
-- triggers do not see (a data-only restore, surgery with triggers disabled)
-- or figures found wrong; the migration fills them the same way. Locks the
-- alerts against writes while it runs, so the result is exact; reads the
-- alerts 10,000 at a time so memory stays flat however many there are.
-- Usage: SELECT alert_stats_rebuild();
CREATE FUNCTION alert_stats_rebuild() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    low BIGINT := 0;
    top BIGINT;
BEGIN
    LOCK TABLE alerts IN SHARE MODE;
    -- And a fold in flight: what it moves would survive the DELETE below.
    LOCK TABLE alert_stats, alert_stats_hist IN EXCLUSIVE MODE;
    DELETE FROM alert_stats;
    DELETE FROM alert_stats_hist;
    SELECT coalesce(max(id), 0) INTO top FROM alerts;
    WHILE low < top LOOP
        PERFORM alert_stats_take(
            ARRAY(SELECT a FROM alerts a WHERE a.id > low AND a.id <= low + 10000), '{}');
        low := low + 10000;
    END LOOP;
END
$$;

SELECT alert_stats_rebuild();

GRANT SELECT, INSERT, UPDATE, DELETE ON alert_stats, alert_stats_hist TO threatmon_app;
-- The rebuilds are an operator's: each locks the alerts against writes for
-- as long as it runs, which the application must not be able to start.
REVOKE EXECUTE ON FUNCTION alert_stats_rebuild(), alert_counts_rebuild(),
    alert_assignee_counts_rebuild() FROM PUBLIC;
