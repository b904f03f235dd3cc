-- The web console's sessions and its failed sign-ins by source address.
-- A session's token is kept only as its SHA-256: whoever reads the
-- database cannot act as anyone. A session ends when it is signed out,
-- idle 30 minutes or 12 hours old (the service decides; `ended_ms` is set
-- when it notices).

CREATE TABLE console_sessions (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT    NOT NULL UNIQUE,
    person_id     INTEGER NOT NULL REFERENCES people(id),
    source        TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    ended_ms      INTEGER
);

CREATE INDEX console_sessions_person ON console_sessions (person_id);

-- Each failed console sign-in, by the address it came from, so that an
-- address trying many names is stopped as a person trying many passwords
-- is. Rows older than the lockout window are deleted as new ones come.
CREATE TABLE console_signin_failures (
    source  TEXT    NOT NULL,
    at_ms   INTEGER NOT NULL
);

CREATE INDEX console_signin_failures_source ON console_signin_failures (source, at_ms);
