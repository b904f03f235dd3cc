-- Exemptions: a name (or, for a bypass, every non-mandatory category)
-- allowed for a group or one client, for a period, for a reason, asked for
-- by one person and approved by another. Rows change status but are never
-- deleted; every change is also in the audit trail.

CREATE TABLE exemptions (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('site', 'bypass')),
    -- The normalised name (it covers every name below it); NULL for a bypass.
    name            TEXT,
    scope_group     TEXT,
    scope_client    TEXT,
    reason          TEXT    NOT NULL,
    requested_by    TEXT    NOT NULL,
    requested_user  TEXT    NOT NULL,
    requested_ms    INTEGER NOT NULL,
    from_ms         INTEGER NOT NULL,
    until_ms        INTEGER NOT NULL CHECK (until_ms > from_ms),
    status          TEXT    NOT NULL
        CHECK (status IN ('pending', 'approved', 'rejected', 'revoked')),
    decided_by      TEXT,
    decided_user    TEXT,
    decided_ms      INTEGER,
    decision_reason TEXT,
    -- When the server recorded the end of an approved exemption.
    expiry_recorded_ms INTEGER,
    CHECK ((scope_group IS NULL) <> (scope_client IS NULL)),
    CHECK ((kind = 'bypass') = (name IS NULL))
);

CREATE INDEX exemptions_status ON exemptions (status, until_ms);

CREATE TRIGGER exemptions_no_delete BEFORE DELETE ON exemptions
BEGIN
    SELECT RAISE(ABORT, 'exemptions are never deleted: revoke them');
END;
