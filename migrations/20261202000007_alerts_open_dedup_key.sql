-- no-transaction
-- At most one alert that is not Resolved per source and dedup key, whatever
-- races between sensors: the ingest statement's `ON CONFLICT` on this index
-- turns a second raise into an attach. A Resolved alert leaves the index, so
-- the next event with its key raises a new alert.
--
-- Built concurrently, so writes go on during the build; that cannot run in
-- a transaction (hence the directive above) nor beside another statement
-- (hence one file per index). An interrupted build leaves an invalid index:
-- DROP INDEX CONCURRENTLY it and run the migrations again.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS alerts_open_dedup_key
    ON alerts (dedup_source, dedup_key) WHERE status <> 'Resolved';
