-- E-safety incidents: the safeguarding lead's record beside the evidence.
-- An incident is opened, gains entries (actions, referrals) that are never
-- edited, and is closed with a conclusion. Nothing here is ever deleted.
CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN (
        'accidental-inappropriate', 'accidental-illegal',
        'deliberate-inappropriate', 'deliberate-illegal',
        'misuse', 'bullying')),
    summary       TEXT    NOT NULL,
    -- How it came to light: alert, report, staff.
    identified    TEXT    NOT NULL CHECK (identified IN ('alert', 'report', 'staff')),
    -- Who was involved, as hedge knows them: client names and groups (or
    -- what the operator chose to type with --involved).
    involved      TEXT    NOT NULL,
    client_net    TEXT,
    from_ms       INTEGER,
    to_ms         INTEGER,
    alert_id      INTEGER REFERENCES alerts (id),
    hold_id       INTEGER REFERENCES legal_holds (id),
    opened_ms     INTEGER NOT NULL,
    opened_by     TEXT    NOT NULL,
    opened_user   TEXT    NOT NULL,
    closed_ms     INTEGER,
    closed_by     TEXT,
    closed_user   TEXT,
    conclusion    TEXT,
    CHECK ((client_net IS NULL) = (from_ms IS NULL)),
    CHECK (to_ms IS NULL OR to_ms >= from_ms)
);

CREATE INDEX incidents_opened ON incidents (opened_ms);

CREATE TRIGGER incidents_no_delete BEFORE DELETE ON incidents
BEGIN
    SELECT RAISE(ABORT, 'incidents are safeguarding records and are never deleted');
END;

-- What was done and by whom, in order; referrals name the agency.
CREATE TABLE incident_entries (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at_ms       INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('note', 'referral')),
    by_person   TEXT    NOT NULL,
    os_user     TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    agency      TEXT CHECK (agency IS NULL OR agency IN
        ('iwf', 'ceop', 'police', 'lado', 'social-care', 'none')),
    referred_ms INTEGER,
    CHECK ((kind = 'referral') = (agency IS NOT NULL))
);

CREATE INDEX incident_entries_incident ON incident_entries (incident_id, id);

CREATE TRIGGER incident_entries_no_update BEFORE UPDATE ON incident_entries
BEGIN
    SELECT RAISE(ABORT, 'incident entries are never edited: add another');
END;

CREATE TRIGGER incident_entries_no_delete BEFORE DELETE ON incident_entries
BEGIN
    SELECT RAISE(ABORT, 'incident entries are never deleted');
END;
