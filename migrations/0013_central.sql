-- Shipping to a central PostgreSQL ([central]).

-- How far each table has been shipped: the highest local id for the tables
-- that only grow (queries, audit, log_access, incident_entries), the
-- highest change number of central_changes for the tables whose rows
-- change. A row is shipped before its mark moves, so a crash ships it
-- again (the centre ignores or overwrites the copy) and never skips it.
CREATE TABLE central_marks (
    tbl     TEXT    PRIMARY KEY,
    shipped INTEGER NOT NULL,
    at_ms   INTEGER NOT NULL
);

-- Every insert or update of a row that can change after it was written,
-- in order: the shipper sends the row's state as it is when shipped.
CREATE TABLE central_changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl    TEXT    NOT NULL,
    row_id INTEGER NOT NULL,
    at_ms  INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
);

CREATE INDEX central_changes_tbl ON central_changes (tbl, seq);

-- Single values: this database's instance id (so that two hedges cannot
-- ship as one site), the highest query id ever used (ids are never given
-- twice, even after retention emptied the log), rows retention deleted
-- unshipped.
CREATE TABLE central_state (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);

INSERT INTO central_state (key, value)
VALUES ('instance', abs(random())), ('queries_last_id', coalesce((SELECT max(id) FROM queries), 0)), ('never_shipped', 0);

CREATE TRIGGER central_exemptions_insert AFTER INSERT ON exemptions
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('exemptions', NEW.id); END;
CREATE TRIGGER central_exemptions_update AFTER UPDATE ON exemptions
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('exemptions', NEW.id); END;

CREATE TRIGGER central_alerts_insert AFTER INSERT ON alerts
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('alerts', NEW.id); END;
CREATE TRIGGER central_alerts_update AFTER UPDATE ON alerts
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('alerts', NEW.id); END;

-- A delivery is shipped with its alert's other deliveries, by alert id.
CREATE TRIGGER central_deliveries_insert AFTER INSERT ON alert_deliveries
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('alert_deliveries', NEW.alert_id); END;
CREATE TRIGGER central_deliveries_update AFTER UPDATE ON alert_deliveries
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('alert_deliveries', NEW.alert_id); END;

CREATE TRIGGER central_holds_insert AFTER INSERT ON legal_holds
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('legal_holds', NEW.id); END;
CREATE TRIGGER central_holds_update AFTER UPDATE ON legal_holds
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('legal_holds', NEW.id); END;

CREATE TRIGGER central_incidents_insert AFTER INSERT ON incidents
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('incidents', NEW.id); END;
CREATE TRIGGER central_incidents_update AFTER UPDATE ON incidents
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('incidents', NEW.id); END;

-- People change on every sign-in; only what the centre keeps of them
-- (name, roles, account, disabled) counts as a change.
CREATE TRIGGER central_people_insert AFTER INSERT ON people
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('people', NEW.id); END;
CREATE TRIGGER central_people_update AFTER UPDATE OF name, roles, os_user, disabled ON people
BEGIN INSERT INTO central_changes (tbl, row_id) VALUES ('people', NEW.id); END;
