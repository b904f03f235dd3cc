-- Mail hedge sent or tried to send (alerts and reports), one row per
-- recipient, with how it ended: a mail that could not be delivered is on
-- record, never lost silently.
CREATE TABLE mail_sends (
    id        INTEGER PRIMARY KEY,
    kind      TEXT    NOT NULL CHECK (kind IN ('alert', 'report')),
    recipient TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    state     TEXT    NOT NULL CHECK (state IN ('sending', 'delivered', 'failed')),
    attempts  INTEGER NOT NULL,
    error     TEXT,
    queued_ms INTEGER NOT NULL,
    at_ms     INTEGER NOT NULL
);

CREATE INDEX mail_sends_at ON mail_sends (at_ms);

-- Each scheduled report, by its key (when, format and recipients), and
-- when the last period it was sent for fell due: a send missed while hedge
-- was stopped is found from this at the next start.
CREATE TABLE report_schedules (
    key         TEXT    PRIMARY KEY,
    last_due_ms INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL
);
