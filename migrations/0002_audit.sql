-- The audit trail: append-only, each row carrying the SHA-256 of the row
-- before it folded into its own hash, so that an edited, deleted or
-- inserted row breaks the chain from that row on.

CREATE TABLE audit (
    id        INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    -- The OS user on the admin socket (or "hedge" for the server itself).
    actor     TEXT    NOT NULL,
    -- The person named on the command line (--by), if any.
    person    TEXT,
    action    TEXT    NOT NULL,
    -- JSON.
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);

CREATE INDEX audit_at ON audit (at_ms);

-- Nothing updates or deletes an audit row through SQL run by hedge; these
-- make a careless manual edit fail loudly too (a deliberate one still
-- shows in `hedge audit verify`).
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit trail is append-only');
END;
