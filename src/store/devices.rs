//! Devices known by their MAC address: each one seen asking (the writer
//! records it with each batch of the query log), and the host names the
//! DHCP lease files give them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::record::{ip_from_key, ip_key};
use super::{Database, StoreError};
use crate::config::Mac;
use crate::policy::leases::Lease;

/// A device as the database has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredDevice {
    pub mac: Mac,
    /// The address it last asked from.
    pub address: IpAddr,
    /// The address it asked from before that, if it has moved.
    pub last_address: Option<IpAddr>,
    /// The host name it gave its DHCP server, as the lease files last said.
    pub dhcp_name: Option<String>,
    pub first_ms: i64,
    pub last_ms: i64,
}

impl Database {
    /// Records the host names in `leases` (a later lease of a device
    /// replaces an earlier one).
    pub async fn set_dhcp_names(&self, leases: &[Lease], now_ms: i64) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        for lease in leases {
            sqlx::query(
                "INSERT INTO dhcp_names (mac, name, address, updated_ms) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (mac) DO UPDATE SET name = excluded.name, \
                   address = excluded.address, updated_ms = excluded.updated_ms",
            )
            .bind(lease.mac.to_u64() as i64)
            .bind(&lease.name)
            .bind(lease.address.map(|a| ip_key(a).to_vec()))
            .bind(now_ms)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Every device seen, most recently seen first.
    pub async fn devices(&self) -> Result<Vec<StoredDevice>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.mac, d.address, d.last_address, d.first_ms, d.last_ms, n.name \
             FROM devices d LEFT JOIN dhcp_names n ON n.mac = d.mac \
             ORDER BY d.last_ms DESC, d.mac",
        )
        .fetch_all(self.pool())
        .await?;
        let mut devices = Vec::with_capacity(rows.len());
        for row in rows {
            let (Some(mac), Some(address)) = (
                Mac::from_u64(row.get::<i64, _>("mac") as u64),
                ip_from_key(&row.get::<Vec<u8>, _>("address")),
            ) else {
                continue;
            };
            devices.push(StoredDevice {
                mac,
                address,
                last_address: row
                    .get::<Option<Vec<u8>>, _>("last_address")
                    .and_then(|key| ip_from_key(&key)),
                dhcp_name: row.get("name"),
                first_ms: row.get("first_ms"),
                last_ms: row.get("last_ms"),
            });
        }
        Ok(devices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::record::{Action, QueryRecord};

    fn asked(at_ms: i64, client: &str, mac: Option<&str>) -> QueryRecord {
        QueryRecord {
            at_ms,
            client: client.parse().unwrap(),
            client_name: None,
            mac: mac.map(|m| m.parse().unwrap()),
            group: None,
            name: "example.com".into(),
            qtype: 1,
            action: Action::Allowed,
            category: None,
            rule: None,
            rcode: 0,
            upstream_us: None,
        }
    }

    #[tokio::test]
    async fn a_device_moves_and_is_named_by_dhcp() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("hedge.db")).await.unwrap();
        let mac = "02:00:00:00:00:01";
        db.insert_queries(&[
            asked(1_000, "10.0.0.5", Some(mac)),
            asked(2_000, "10.0.0.6", None),
        ])
        .await
        .unwrap();
        db.insert_queries(&[asked(5_000, "10.0.0.7", Some(mac))])
            .await
            .unwrap();
        db.set_dhcp_names(
            &[Lease {
                mac: mac.parse().unwrap(),
                address: Some("10.0.0.7".parse().unwrap()),
                name: "sam-tablet".into(),
            }],
            6_000,
        )
        .await
        .unwrap();
        let devices = db.devices().await.unwrap();
        assert_eq!(
            devices,
            [StoredDevice {
                mac: mac.parse().unwrap(),
                address: "10.0.0.7".parse().unwrap(),
                last_address: Some("10.0.0.5".parse().unwrap()),
                dhcp_name: Some("sam-tablet".into()),
                first_ms: 1_000,
                last_ms: 5_000,
            }]
        );
    }
}
