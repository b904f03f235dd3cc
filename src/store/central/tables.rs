//! What is shipped of each table: its columns at the site and at the
//! centre, how each value crosses, and whether rows change after they are
//! written.

/// How a value goes from SQLite to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    Text,
    /// A 16-byte address key at the site, `inet` at the centre.
    Inet,
    /// A MAC address as an integer at the site, `macaddr` at the centre.
    Mac,
    /// A network as text at the site, `cidr` at the centre.
    Cidr,
    /// 0 or 1 at the site, `boolean` at the centre.
    Bool,
}

/// One shipped table.
#[derive(Debug)]
pub(super) struct Table {
    /// The name at the site, the centre and in `central_marks`.
    pub name: &'static str,
    /// The column that identifies a row at the site (and orders shipping).
    pub id: &'static str,
    /// Columns as the site's SELECT names them (qualified where joined),
    /// with the centre's column name.
    pub columns: &'static [(&'static str, &'static str, Kind)],
    /// The FROM clause at the site.
    pub from: &'static str,
    /// The centre's key after `site`.
    pub key: &'static str,
    /// Rows change after they are written: shipped by change, upserted.
    pub changing: bool,
}

use Kind::*;

/// In the order they ship.
pub(super) const TABLES: &[Table] = &[
    Table {
        name: "queries",
        id: "q.id",
        columns: &[
            ("q.id", "id", Int),
            ("q.at_ms", "at_ms", Int),
            ("q.client_ip", "client_ip", Inet),
            ("q.mac", "mac", Mac),
            ("q.client_name", "client_name", Text),
            ("d.name", "dhcp_name", Text),
            ("q.group_name", "group_name", Text),
            ("q.name_key", "name_key", Text),
            ("q.qtype", "qtype", Int),
            ("q.action", "action", Text),
            ("q.category", "category", Text),
            ("q.rule", "rule", Text),
            ("q.rcode", "rcode", Int),
            ("q.upstream_us", "upstream_us", Int),
            ("q.times", "times", Int),
            ("q.last_ms", "last_ms", Int),
        ],
        from: "queries AS q LEFT JOIN dhcp_names AS d ON d.mac = q.mac",
        key: "at_ms, id",
        changing: false,
    },
    Table {
        name: "audit",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("at_ms", "at_ms", Int),
            ("actor", "actor", Text),
            ("person", "person", Text),
            ("action", "action", Text),
            ("details", "details", Text),
            ("prev_hash", "prev_hash", Text),
            ("hash", "hash", Text),
        ],
        from: "audit",
        key: "id",
        changing: false,
    },
    Table {
        name: "log_access",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("at_ms", "at_ms", Int),
            ("os_user", "os_user", Text),
            ("uid", "uid", Int),
            ("kind", "kind", Text),
            ("filters", "filters", Text),
            ("rows", "rows", Int),
        ],
        from: "log_access",
        key: "id",
        changing: false,
    },
    Table {
        name: "exemptions",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("kind", "kind", Text),
            ("name", "name", Text),
            ("scope_group", "scope_group", Text),
            ("scope_client", "scope_client", Text),
            ("reason", "reason", Text),
            ("requested_by", "requested_by", Text),
            ("requested_user", "requested_user", Text),
            ("requested_ms", "requested_ms", Int),
            ("filed_by", "filed_by", Text),
            ("from_ms", "from_ms", Int),
            ("until_ms", "until_ms", Int),
            ("status", "status", Text),
            ("decided_by", "decided_by", Text),
            ("decided_user", "decided_user", Text),
            ("decided_ms", "decided_ms", Int),
            ("decision_reason", "decision_reason", Text),
            ("revoked_by", "revoked_by", Text),
            ("revoked_user", "revoked_user", Text),
            ("revoked_ms", "revoked_ms", Int),
            ("revoke_reason", "revoke_reason", Text),
            ("expiry_recorded_ms", "expiry_recorded_ms", Int),
        ],
        from: "exemptions",
        key: "id",
        changing: true,
    },
    Table {
        name: "alerts",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("first_ms", "first_ms", Int),
            ("last_ms", "last_ms", Int),
            ("hits", "hits", Int),
            ("client_ip", "client_ip", Inet),
            ("mac", "mac", Mac),
            ("client_name", "client_name", Text),
            ("group_name", "group_name", Text),
            ("category", "category", Text),
            ("name", "name", Text),
            ("acked_ms", "acked_ms", Int),
            ("acked_by", "acked_by", Text),
            ("acked_user", "acked_user", Text),
            ("ack_note", "ack_note", Text),
        ],
        from: "alerts",
        key: "id",
        changing: true,
    },
    Table {
        name: "alert_deliveries",
        id: "alert_id",
        columns: &[
            ("alert_id", "alert_id", Int),
            ("sink", "sink", Text),
            ("state", "state", Text),
            ("attempts", "attempts", Int),
            ("error", "error", Text),
            ("at_ms", "at_ms", Int),
        ],
        from: "alert_deliveries",
        key: "alert_id, sink",
        changing: true,
    },
    Table {
        name: "legal_holds",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("client_net", "client_net", Cidr),
            ("from_ms", "from_ms", Int),
            ("to_ms", "to_ms", Int),
            ("reason", "reason", Text),
            ("placed_by", "placed_by", Text),
            ("placed_user", "placed_user", Text),
            ("placed_ms", "placed_ms", Int),
            ("released_ms", "released_ms", Int),
            ("released_by", "released_by", Text),
            ("released_user", "released_user", Text),
            ("release_reason", "release_reason", Text),
        ],
        from: "legal_holds",
        key: "id",
        changing: true,
    },
    Table {
        name: "incidents",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("kind", "kind", Text),
            ("summary", "summary", Text),
            ("identified", "identified", Text),
            ("involved", "involved", Text),
            ("client_net", "client_net", Text),
            ("from_ms", "from_ms", Int),
            ("to_ms", "to_ms", Int),
            ("alert_id", "alert_id", Int),
            ("hold_id", "hold_id", Int),
            ("opened_ms", "opened_ms", Int),
            ("opened_by", "opened_by", Text),
            ("opened_user", "opened_user", Text),
            ("closed_ms", "closed_ms", Int),
            ("closed_by", "closed_by", Text),
            ("closed_user", "closed_user", Text),
            ("conclusion", "conclusion", Text),
        ],
        from: "incidents",
        key: "id",
        changing: true,
    },
    Table {
        name: "incident_entries",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("incident_id", "incident_id", Int),
            ("at_ms", "at_ms", Int),
            ("kind", "kind", Text),
            ("by_person", "by_person", Text),
            ("os_user", "os_user", Text),
            ("text", "text", Text),
            ("agency", "agency", Text),
            ("referred_ms", "referred_ms", Int),
        ],
        from: "incident_entries",
        key: "id",
        changing: false,
    },
    Table {
        name: "people",
        id: "id",
        columns: &[
            ("id", "id", Int),
            ("name", "name", Text),
            ("roles", "roles", Text),
            ("os_user", "os_user", Text),
            ("disabled", "disabled", Bool),
            ("created_ms", "created_ms", Int),
        ],
        from: "people",
        key: "id",
        changing: true,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped table's columns are the centre's, in its order, after
    /// `site`: checked against the central schema's text.
    #[test]
    fn columns_match_the_central_schema() {
        let schema = include_str!("../../../migrations/central/0001_schema.sql");
        for table in TABLES {
            let start = schema
                .find(&format!("CREATE TABLE {} (", table.name))
                .unwrap_or_else(|| panic!("{} is in the central schema", table.name));
            // The column lines: up to the one that closes the table.
            let central: Vec<&str> = schema[start..]
                .lines()
                .skip(1)
                .map(str::trim)
                .take_while(|l| !l.starts_with(')'))
                .filter(|l| !l.is_empty() && !l.starts_with("--") && !l.starts_with("PRIMARY"))
                .map(|l| l.split_whitespace().next().unwrap())
                .collect();
            let ours: Vec<&str> = std::iter::once("site")
                .chain(table.columns.iter().map(|(_, c, _)| *c))
                .collect();
            assert_eq!(central, ours, "{}", table.name);
        }
    }
}
