-- Devices known by their MAC address (a 48-bit number), from the kernel's
-- neighbour table when they query hedge. A query-log row carries the MAC
-- address of its device when hedge knew it; names come from the tables
-- below when a row is read, so a row stays small.
ALTER TABLE queries ADD COLUMN mac INTEGER;
CREATE INDEX queries_mac ON queries (mac, at_ms) WHERE mac IS NOT NULL;

-- An alert carries the MAC address of its device too; its client_name is
-- the configured name, else the DHCP name when it was raised.
ALTER TABLE alerts ADD COLUMN mac INTEGER;

-- Each device seen asking: the address it last asked from and the one
-- before that (NULL until it moves), and when it was first and last seen.
CREATE TABLE devices (
    mac          INTEGER PRIMARY KEY,
    address      BLOB    NOT NULL CHECK (length(address) = 16),
    last_address BLOB    CHECK (last_address IS NULL OR length(last_address) = 16),
    first_ms     INTEGER NOT NULL,
    last_ms      INTEGER NOT NULL
);

-- The host name each device gave its DHCP server, from the lease files in
-- `[devices] dhcp_leases`, as last read.
CREATE TABLE dhcp_names (
    mac        INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    address    BLOB    CHECK (address IS NULL OR length(address) = 16),
    updated_ms INTEGER NOT NULL
);
