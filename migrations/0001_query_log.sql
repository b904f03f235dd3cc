-- The query log, legal holds on it, and the record of who searched it.
-- Times are Unix milliseconds, UTC. Client addresses are 16-byte blobs
-- (IPv4 as ::ffff:a.b.c.d) so that every CIDR is one range of blobs.

CREATE TABLE queries (
    id          INTEGER PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    client_ip   BLOB    NOT NULL CHECK (length(client_ip) = 16),
    client_name TEXT,
    group_name  TEXT,
    -- The query name with its labels reversed ("com.example.www"), so that
    -- a name and everything below it is one range of the index.
    name_key    TEXT    NOT NULL,
    qtype       INTEGER NOT NULL,
    action      TEXT    NOT NULL
        CHECK (action IN ('allowed', 'blocked', 'rewritten', 'local', 'refused')),
    category    TEXT,
    rule        TEXT,
    rcode       INTEGER NOT NULL,
    -- Time the upstream took; NULL when no upstream was asked.
    upstream_us INTEGER
);

CREATE INDEX queries_at ON queries (at_ms);
CREATE INDEX queries_client ON queries (client_ip, at_ms);
CREATE INDEX queries_name ON queries (name_key, at_ms);
CREATE INDEX queries_category ON queries (category, at_ms) WHERE category IS NOT NULL;

-- Rows of a client range and period kept past retention until released.
CREATE TABLE legal_holds (
    id             INTEGER PRIMARY KEY,
    client_net     TEXT    NOT NULL,
    client_lo      BLOB    NOT NULL CHECK (length(client_lo) = 16),
    client_hi      BLOB    NOT NULL CHECK (length(client_hi) = 16),
    from_ms        INTEGER NOT NULL,
    to_ms          INTEGER NOT NULL CHECK (to_ms >= from_ms),
    reason         TEXT    NOT NULL,
    placed_by      TEXT    NOT NULL,
    placed_user    TEXT    NOT NULL,
    placed_ms      INTEGER NOT NULL,
    released_ms    INTEGER,
    released_by    TEXT,
    released_user  TEXT,
    release_reason TEXT
);

-- Every search and export of the query log: who, when, what, how many rows.
CREATE TABLE log_access (
    id       INTEGER PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    os_user  TEXT    NOT NULL,
    uid      INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    filters  TEXT    NOT NULL,
    rows     INTEGER NOT NULL
);

CREATE INDEX log_access_at ON log_access (at_ms);
