//! The audit trail: reading it and recomputing its hash chain.

use super::{Service, ServiceError};
use crate::store::{AuditRow, ChainCheck};

impl Service {
    /// Audit rows from `since_ms` on, oldest first, at most `limit`.
    pub async fn audit_rows(
        &self,
        since_ms: i64,
        limit: u64,
    ) -> Result<Vec<AuditRow>, ServiceError> {
        Ok(self.storage.get()?.audit_rows(since_ms, limit).await?)
    }

    /// The newest `limit` audit rows from `since_ms` on, newest first.
    pub async fn latest_audit_rows(
        &self,
        since_ms: i64,
        limit: u64,
    ) -> Result<Vec<AuditRow>, ServiceError> {
        Ok(self
            .storage
            .get()?
            .latest_audit_rows(since_ms, limit)
            .await?)
    }

    /// Recomputes the chain and names the first broken row, if any.
    pub async fn verify_audit(&self) -> Result<ChainCheck, ServiceError> {
        Ok(self.storage.get()?.verify_audit().await?)
    }
}
