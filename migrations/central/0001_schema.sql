-- The central store: every site's records, keyed by (site, the site's own
-- id). Every table's key starts with `site`, the distribution column, so
-- the same schema runs distributed by site on Citus (README, "Many
-- sites"). Times are Unix milliseconds, as at the sites.

-- One row per site: who ships under the name, and its state as it last
-- reported it.
CREATE TABLE sites (
    site              text    PRIMARY KEY,
    -- The site database's own random id: a second hedge shipping under a
    -- taken name is refused rather than mixed in.
    instance          bigint  NOT NULL,
    first_ms          bigint  NOT NULL,
    last_shipped_ms   bigint,
    backlog_rows      bigint  NOT NULL DEFAULT 0,
    backlog_oldest_ms bigint,
    never_shipped     bigint  NOT NULL DEFAULT 0,
    -- The newest audit row the site had when it last shipped.
    audit_head_id     bigint,
    audit_head_hash   text,
    version           text
);

CREATE TABLE queries (
    site        text    NOT NULL,
    id          bigint  NOT NULL,
    at_ms       bigint  NOT NULL,
    client_ip   inet    NOT NULL,
    mac         macaddr,
    client_name text,
    dhcp_name   text,
    group_name  text,
    -- Labels reversed ("com.example.www"), as at the sites, so a name and
    -- everything below it is one range of the index.
    name_key    text    COLLATE "C" NOT NULL,
    qtype       integer NOT NULL,
    action      text    NOT NULL,
    category    text,
    rule        text,
    rcode       integer NOT NULL,
    upstream_us integer,
    times       integer NOT NULL,
    last_ms     bigint,
    PRIMARY KEY (site, at_ms, id)
) PARTITION BY RANGE (at_ms);

CREATE INDEX queries_at ON queries (at_ms);
CREATE INDEX queries_client ON queries (client_ip, at_ms);
CREATE INDEX queries_name ON queries (name_key, at_ms);
CREATE INDEX queries_mac ON queries (mac, at_ms) WHERE mac IS NOT NULL;
CREATE INDEX queries_category ON queries (category, at_ms) WHERE category IS NOT NULL;

-- Makes the day partition holding `at` (one UTC day), if it is missing.
-- Sites call it before they ship a day's rows; it runs as its owner, so a
-- site's role needs no right to create tables.
CREATE FUNCTION hedge_day_partition(at bigint) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    day_start bigint := at - (((at % 86400000) + 86400000) % 86400000);
    name text := 'queries_' || to_char(to_timestamp(day_start / 1000) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    IF to_regclass(name) IS NULL THEN
        PERFORM pg_advisory_xact_lock(748213, (day_start / 86400000)::integer);
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF queries FOR VALUES FROM (%s) TO (%s)',
                           name, day_start, day_start + 86400000);
        END IF;
    END IF;
    RETURN name;
END
$$;

CREATE TABLE audit (
    site      text   NOT NULL,
    id        bigint NOT NULL,
    at_ms     bigint NOT NULL,
    actor     text   NOT NULL,
    person    text,
    action    text   NOT NULL,
    details   text   NOT NULL,
    prev_hash text   NOT NULL,
    hash      text   NOT NULL,
    PRIMARY KEY (site, id)
);

CREATE TABLE log_access (
    site    text    NOT NULL,
    id      bigint  NOT NULL,
    at_ms   bigint  NOT NULL,
    os_user text    NOT NULL,
    uid     bigint  NOT NULL,
    kind    text    NOT NULL,
    filters text    NOT NULL,
    rows    bigint  NOT NULL,
    PRIMARY KEY (site, id)
);

CREATE TABLE exemptions (
    site               text   NOT NULL,
    id                 bigint NOT NULL,
    kind               text   NOT NULL,
    name               text,
    scope_group        text,
    scope_client       text,
    reason             text   NOT NULL,
    requested_by       text   NOT NULL,
    requested_user     text   NOT NULL,
    requested_ms       bigint NOT NULL,
    filed_by           text,
    from_ms            bigint NOT NULL,
    until_ms           bigint NOT NULL,
    status             text   NOT NULL,
    decided_by         text,
    decided_user       text,
    decided_ms         bigint,
    decision_reason    text,
    revoked_by         text,
    revoked_user       text,
    revoked_ms         bigint,
    revoke_reason      text,
    expiry_recorded_ms bigint,
    PRIMARY KEY (site, id)
);

CREATE TABLE alerts (
    site        text    NOT NULL,
    id          bigint  NOT NULL,
    first_ms    bigint  NOT NULL,
    last_ms     bigint  NOT NULL,
    hits        bigint  NOT NULL,
    client_ip   inet    NOT NULL,
    mac         macaddr,
    client_name text,
    group_name  text    NOT NULL,
    category    text    NOT NULL,
    name        text    NOT NULL,
    acked_ms    bigint,
    acked_by    text,
    acked_user  text,
    ack_note    text,
    PRIMARY KEY (site, id)
);

CREATE INDEX alerts_first ON alerts (first_ms);

CREATE TABLE alert_deliveries (
    site     text    NOT NULL,
    alert_id bigint  NOT NULL,
    sink     text    NOT NULL,
    state    text    NOT NULL,
    attempts integer NOT NULL,
    error    text,
    at_ms    bigint  NOT NULL,
    PRIMARY KEY (site, alert_id, sink)
);

CREATE TABLE legal_holds (
    site           text   NOT NULL,
    id             bigint NOT NULL,
    client_net     cidr   NOT NULL,
    from_ms        bigint NOT NULL,
    to_ms          bigint NOT NULL,
    reason         text   NOT NULL,
    placed_by      text   NOT NULL,
    placed_user    text   NOT NULL,
    placed_ms      bigint NOT NULL,
    released_ms    bigint,
    released_by    text,
    released_user  text,
    release_reason text,
    PRIMARY KEY (site, id)
);

CREATE TABLE incidents (
    site        text   NOT NULL,
    id          bigint NOT NULL,
    kind        text   NOT NULL,
    summary     text   NOT NULL,
    identified  text   NOT NULL,
    involved    text   NOT NULL,
    client_net  text,
    from_ms     bigint,
    to_ms       bigint,
    alert_id    bigint,
    hold_id     bigint,
    opened_ms   bigint NOT NULL,
    opened_by   text   NOT NULL,
    opened_user text   NOT NULL,
    closed_ms   bigint,
    closed_by   text,
    closed_user text,
    conclusion  text,
    PRIMARY KEY (site, id)
);

CREATE TABLE incident_entries (
    site        text   NOT NULL,
    id          bigint NOT NULL,
    incident_id bigint NOT NULL,
    at_ms       bigint NOT NULL,
    kind        text   NOT NULL,
    by_person   text   NOT NULL,
    os_user     text   NOT NULL,
    text        text   NOT NULL,
    agency      text,
    referred_ms bigint,
    PRIMARY KEY (site, id)
);

-- People as the centre sees them: no password, TOTP secret or enrolment
-- code ever leaves the site.
CREATE TABLE people (
    site       text    NOT NULL,
    id         bigint  NOT NULL,
    name       text    NOT NULL,
    roles      text    NOT NULL,
    os_user    text,
    disabled   boolean NOT NULL,
    created_ms bigint  NOT NULL,
    PRIMARY KEY (site, id)
);

-- Holds placed at the centre: `hedge central purge` spares the rows they
-- cover (as it spares those a site's own hold in force covers).
CREATE TABLE central_holds (
    site           text      NOT NULL,
    id             bigserial NOT NULL,
    client_net     cidr      NOT NULL,
    from_ms        bigint    NOT NULL,
    to_ms          bigint    NOT NULL CHECK (to_ms >= from_ms),
    reason         text      NOT NULL,
    -- The PostgreSQL role that placed it (authenticated by the server),
    -- and the OS account that ran the command.
    placed_by      text      NOT NULL,
    placed_user    text      NOT NULL,
    placed_ms      bigint    NOT NULL,
    released_ms    bigint,
    released_by    text,
    released_user  text,
    release_reason text,
    PRIMARY KEY (site, id)
);

-- Every central search, export, report and purge: who (PostgreSQL role
-- and OS account), what and how many rows.
CREATE TABLE central_access (
    id       bigserial PRIMARY KEY,
    at_ms    bigint    NOT NULL,
    db_user  text      NOT NULL DEFAULT current_user,
    os_user  text      NOT NULL,
    kind     text      NOT NULL,
    filters  text      NOT NULL,
    rows     bigint    NOT NULL
);

-- Roles: sites ship (each site logs in as a role of its own that is a
-- member of hedge_site); officers read across sites and their reading is
-- recorded; neither can change what a site shipped by other means.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hedge_site') THEN
        CREATE ROLE hedge_site NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hedge_officer') THEN
        CREATE ROLE hedge_officer NOLOGIN;
    END IF;
END
$$;

GRANT SELECT, INSERT, UPDATE ON sites, queries, audit, log_access, exemptions, alerts,
    alert_deliveries, legal_holds, incidents, incident_entries, people TO hedge_site;
GRANT EXECUTE ON FUNCTION hedge_day_partition(bigint) TO hedge_site;
GRANT SELECT ON sites, queries, audit, log_access, exemptions, alerts, alert_deliveries,
    legal_holds, incidents, incident_entries, people, central_holds, central_access
    TO hedge_officer;
GRANT INSERT ON central_access TO hedge_officer;
GRANT USAGE ON SEQUENCE central_access_id_seq TO hedge_officer;
REVOKE EXECUTE ON FUNCTION hedge_day_partition(bigint) FROM PUBLIC;
