//! Prometheus metrics through the `metrics` facade and `metrics-exporter-prometheus`, as in the api
//! (`plumbing::prometheus`). Served only on `METRICS_BIND`, never on the service port; without it
//! no recorder is installed and recording is a no-op.
//!
//! Labels are bounded and never carry PHI: the provider name, an outcome (`ok` or an error code),
//! a token direction, a triage category.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use shared::ai::Usage;

/// Upper bounds (seconds) of the model-call latency histogram.
pub const BUCKETS: &[f64] = &[0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Installs the process's recorder (once) and returns the handle that renders it.
pub fn install() -> Option<PrometheusHandle> {
    plumbing::prometheus::install(BUCKETS, describe)
}

fn describe() {
    metrics::describe_counter!(
        "ai_model_calls_total",
        "Model calls by provider and outcome (ok or error code)."
    );
    metrics::describe_histogram!(
        "ai_model_call_duration_seconds",
        metrics::Unit::Seconds,
        "Whole model call latency."
    );
    metrics::describe_counter!("ai_tokens_total", "Tokens by provider and direction.");
    metrics::describe_counter!("ai_triage_detections_total", "Urgent triage detections by category.");
}

/// One model call: latency, outcome (`ok` or an error code) and tokens.
pub fn model_call(provider: &'static str, elapsed: Duration, outcome: Result<Usage, &'static str>) {
    let code = match &outcome {
        Ok(_) => "ok",
        Err(code) => code,
    };
    metrics::counter!("ai_model_calls_total", "provider" => provider, "outcome" => code).increment(1);
    metrics::histogram!("ai_model_call_duration_seconds", "provider" => provider).record(elapsed.as_secs_f64());
    if let Ok(usage) = outcome {
        metrics::counter!("ai_tokens_total", "provider" => provider, "direction" => "in")
            .increment(u64::from(usage.input_tokens));
        metrics::counter!("ai_tokens_total", "provider" => provider, "direction" => "out")
            .increment(u64::from(usage.output_tokens));
    }
}

/// One urgent triage detection.
pub fn triage_detected(category: &str) {
    metrics::counter!("ai_triage_detections_total", "category" => category.to_owned()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let recorder = plumbing::prometheus::recorder(BUCKETS).unwrap();
        metrics::with_local_recorder(&recorder, || {
            model_call(
                "gemini",
                Duration::from_millis(30),
                Ok(Usage {
                    input_tokens: 10,
                    output_tokens: 5,
                }),
            );
            model_call("gemini", Duration::from_millis(30), Err("ai_timeout"));
            triage_detected("avulsion");
        });
        let text = recorder.handle().render();
        assert!(
            text.contains("ai_model_calls_total{provider=\"gemini\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("ai_model_calls_total{provider=\"gemini\",outcome=\"ai_timeout\"} 1"));
        assert!(text.contains("ai_model_call_duration_seconds_bucket{provider=\"gemini\",le=\"0.05\"} 2"));
        assert!(text.contains("ai_model_call_duration_seconds_bucket{provider=\"gemini\",le=\"0.01\"} 0"));
        assert!(text.contains("ai_tokens_total{provider=\"gemini\",direction=\"in\"} 10"));
        assert!(text.contains("ai_triage_detections_total{category=\"avulsion\"} 1"));
    }
}
