-- Safeguarding alerts: blocked attempts in a safeguarding category, one row
-- per client and category within the alert window, with a count of hits.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    first_ms    INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL CHECK (last_ms >= first_ms),
    hits        INTEGER NOT NULL CHECK (hits >= 1),
    client_ip   BLOB    NOT NULL CHECK (length(client_ip) = 16),
    client_name TEXT,
    group_name  TEXT    NOT NULL,
    category    TEXT    NOT NULL,
    -- The first name asked; later hits may be other names in the category.
    name        TEXT    NOT NULL,
    acked_ms    INTEGER,
    acked_by    TEXT,
    acked_user  TEXT,
    ack_note    TEXT
);

CREATE INDEX alerts_first ON alerts (first_ms);
CREATE INDEX alerts_open ON alerts (first_ms) WHERE acked_ms IS NULL;

CREATE TRIGGER alerts_no_delete BEFORE DELETE ON alerts
BEGIN
    SELECT RAISE(ABORT, 'alerts are safeguarding records and are never deleted');
END;

-- Where each alert was sent and whether it arrived.
CREATE TABLE alert_deliveries (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    -- "syslog", or the webhook's URL.
    sink     TEXT    NOT NULL,
    state    TEXT    NOT NULL CHECK (state IN ('sending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    error    TEXT,
    at_ms    INTEGER NOT NULL,
    PRIMARY KEY (alert_id, sink)
);

-- Query-log entries that were never written (queue full, database failing),
-- as the writer counted them: a report says where the log has gaps.
CREATE TABLE log_drops (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    dropped INTEGER NOT NULL CHECK (dropped > 0)
);

CREATE INDEX log_drops_at ON log_drops (at_ms);
