//! Shared application state.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use shared::ai::Usage;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::providers::{self, Provider};
use crate::redact::Detectors;
use crate::triage::{TriageResult, Triager};

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    service_token: SecretString,
    provider: Arc<dyn Provider>,
    triager: Triager,
    timeout: Duration,
    /// Set when prompts are redacted before they leave (`AI_REDACT_PHI`).
    redaction: Option<Arc<Detectors>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("provider", &self.inner.provider.name())
            .field("timeout", &self.inner.timeout)
            .field("redact_phi", &self.inner.redaction.is_some())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Builds the state with the configured provider.
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Ok(Self::with_provider(config, providers::from_config(config)?))
    }

    /// Builds the state around a given provider (tests, benchmarks, embedding).
    pub fn with_provider(config: &Config, provider: Arc<dyn Provider>) -> Self {
        Self {
            inner: Arc::new(Inner {
                service_token: config.service_token.clone(),
                provider,
                triager: Triager::new(),
                timeout: config.timeout,
                redaction: config.redacts_phi().then(|| Arc::new(Detectors::new())),
            }),
        }
    }

    pub fn provider(&self) -> &Arc<dyn Provider> {
        &self.inner.provider
    }

    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The redaction patterns, when prompts are redacted before they leave.
    pub fn redaction(&self) -> Option<&Arc<Detectors>> {
        self.inner.redaction.as_ref()
    }

    /// Constant-time comparison with the configured service token.
    pub fn token_matches(&self, presented: &str) -> bool {
        presented
            .as_bytes()
            .ct_eq(self.inner.service_token.expose_secret().as_bytes())
            .into()
    }

    /// Triage of one message, recorded in metrics by category (never by text).
    pub fn triage(&self, message: &str) -> TriageResult {
        let result = self.inner.triager.classify(message);
        if let Some(category) = result.triage.category.as_deref() {
            tracing::info!(category, severity = ?result.triage.severity, "triage detected an urgent message");
            crate::metrics::triage_detected(category);
        }
        result
    }

    /// Logs and counts one model call (no content, only sizes and outcome).
    pub fn record_call(&self, elapsed: Duration, outcome: Result<Usage, &'static str>) {
        let provider = self.inner.provider.name();
        let latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(usage) => tracing::info!(
                provider,
                latency_ms,
                input_tokens = usage.input_tokens,
                output_tokens = usage.output_tokens,
                "model call finished"
            ),
            Err(code) => tracing::warn!(provider, latency_ms, outcome = code, "model call failed"),
        }
        crate::metrics::model_call(provider, elapsed, outcome);
    }
}
