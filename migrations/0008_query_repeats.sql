-- A device asking the same name again (same type, same answer, same rule)
-- within a few seconds is kept as one row: asked `times` times in all, the
-- last at `last_ms` (NULL when asked once). Counts and reports add `times`.
ALTER TABLE queries ADD COLUMN times INTEGER NOT NULL DEFAULT 1;
ALTER TABLE queries ADD COLUMN last_ms INTEGER;

-- The report's per-device and per-name passes add `times` up from the
-- index alone.
DROP INDEX queries_blocked;
CREATE INDEX queries_blocked ON queries (at_ms, category, group_name, name_key, client_ip, times)
WHERE action = 'blocked';
