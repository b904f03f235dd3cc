//! Webhooks: each alert POSTed as JSON, retried with growing pauses, each
//! attempt bounded by the configured timeout. Runs apart from the DNS path,
//! so a slow or failing endpoint never delays an answer.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::WebhookConfig;

/// The pause before retry `attempt` (1-based): 1 s, doubling, at most a
/// minute.
pub fn pause_before(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(2).min(6)).min(Duration::from_secs(60))
}

/// How a delivery ended: the attempts made, and the last error if it
/// never succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub attempts: u32,
    pub error: Option<String>,
}

/// POSTs `body` to `webhook` until it answers 2xx, the attempts run out or
/// hedge stops.
pub async fn deliver(
    webhook: &WebhookConfig,
    body: String,
    shutdown: &CancellationToken,
) -> Outcome {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(webhook.timeout))
        .http_status_as_error(false)
        .user_agent(concat!("hedge/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut error = None;
    for attempt in 1..=webhook.attempts {
        if attempt > 1 {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    return Outcome {
                        attempts: attempt - 1,
                        error: Some(format!(
                            "{}; hedge stopped before trying again",
                            error.unwrap_or_default()
                        )),
                    };
                }
                _ = tokio::time::sleep(pause_before(attempt)) => {}
            }
        }
        let (agent, url, body) = (agent.clone(), webhook.url.clone(), body.clone());
        let result = tokio::task::spawn_blocking(move || post(&agent, &url, &body))
            .await
            .unwrap_or_else(|e| Err(format!("the delivery task failed: {e}")));
        match result {
            Ok(()) => {
                return Outcome {
                    attempts: attempt,
                    error: None,
                };
            }
            Err(e) => {
                tracing::warn!(url = %webhook.url, attempt, "alert webhook failed: {e}");
                error = Some(e);
            }
        }
    }
    Outcome {
        attempts: webhook.attempts,
        error,
    }
}

fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(), String> {
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("the server answered HTTP {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_a_minute() {
        let pauses: Vec<u64> = (2..=10).map(|a| pause_before(a).as_secs()).collect();
        assert_eq!(pauses, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }
}
