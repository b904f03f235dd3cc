//! The validator, made again when the trust anchors' keys are due.

use super::UpstreamError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::warn;

/// A validator made from the trust anchors' keys as fetched, made again
/// when those keys are due to be fetched again (a zone's ZSK rolls over).
/// Made at first use, so hedge starts while its upstreams are unreachable.
pub(super) struct Renewing<T> {
    slot: tokio::sync::Mutex<Option<(Arc<T>, Instant)>>,
}

impl<T> Renewing<T> {
    pub(super) fn new() -> Renewing<T> {
        Renewing {
            slot: tokio::sync::Mutex::new(None),
        }
    }

    /// The validator, made by `make` (with how long it holds) when there is
    /// none or it is due. When making it again fails, the one there is kept
    /// and tried again a minute later.
    pub(super) async fn get<F, Fut>(&self, make: F) -> Result<Arc<T>, UpstreamError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<(T, Duration), UpstreamError>>,
    {
        let mut slot = self.slot.lock().await;
        let now = Instant::now();
        if let Some((made, renew_at)) = slot.as_ref()
            && now < *renew_at
        {
            return Ok(made.clone());
        }
        match make().await {
            Ok((made, lifetime)) => {
                let made = Arc::new(made);
                *slot = Some((made.clone(), now + lifetime));
                Ok(made)
            }
            Err(error) => match slot.as_mut() {
                Some((made, renew_at)) => {
                    warn!(%error, "DNSSEC: cannot fetch the trust anchors' keys again; keeping the ones fetched before");
                    *renew_at = now + Duration::from_secs(60);
                    Ok(made.clone())
                }
                None => Err(error),
            },
        }
    }
}
