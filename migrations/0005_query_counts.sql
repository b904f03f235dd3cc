-- Queries per 15 minutes by group, action and category. The writer adds to
-- it in the same transaction as the rows, and retention takes away what it
-- deletes, so it always agrees with the rows kept; a report over months
-- reads thousands of counts, not millions of rows. 15 minutes divides every
-- UTC offset in use, so each bucket falls in one local day.
CREATE TABLE query_counts (
    bucket     INTEGER NOT NULL,
    group_name TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (bucket, group_name, action, category)
) WITHOUT ROWID;

INSERT INTO query_counts (bucket, group_name, action, category, n)
SELECT at_ms / 900000, coalesce(group_name, ''), action, coalesce(category, ''), count(*)
FROM queries
GROUP BY 1, 2, 3, 4;

-- Blocked rows with what reports group them by, read without the table.
CREATE INDEX queries_blocked ON queries (at_ms, category, group_name, name_key, client_ip)
WHERE action = 'blocked';
