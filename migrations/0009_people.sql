-- People: the members of staff, approvers, safeguarding leads and
-- administrators who act through hedge. A person is never deleted (the
-- audit trail names them); they are disabled. Credentials are kept only as
-- hashes: an argon2id PHC string for the password, SHA-256 for the
-- one-time enrolment code. Every change is also in the audit trail.

CREATE TABLE people (
    id                   INTEGER PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    -- Comma-separated: staff, approver, safeguarding, admin.
    roles                TEXT    NOT NULL,
    -- The OS account that acts as this person on the admin socket.
    os_user              TEXT    UNIQUE,
    password_hash        TEXT,
    -- Base32, RFC 6238 (SHA-1, 6 digits, 30 s); NULL without TOTP.
    totp_secret          TEXT,
    -- The 30-second step of the last TOTP code accepted: a code is never
    -- accepted twice (RFC 6238, section 5.2).
    totp_last_step       INTEGER,
    enrolment_hash       TEXT    UNIQUE,
    enrolment_expires_ms INTEGER,
    disabled             INTEGER NOT NULL DEFAULT 0,
    failed_signins       INTEGER NOT NULL DEFAULT 0,
    locked_until_ms      INTEGER,
    created_ms           INTEGER NOT NULL
);

CREATE TRIGGER people_no_delete BEFORE DELETE ON people
BEGIN
    SELECT RAISE(ABORT, 'people are never deleted: disable them');
END;

-- Who filed an exemption request, when it was filed on behalf of the
-- requester (a request received on paper or by email).
ALTER TABLE exemptions ADD COLUMN filed_by TEXT;
