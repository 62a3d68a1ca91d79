//! Prometheus metrics, rendered by hand (a few counters and one histogram do not justify an
//! exporter stack). Served only on `METRICS_BIND`, never on the service port.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use shared::ai::Usage;

/// Upper bounds (seconds) of the model-call latency histogram.
const BUCKETS: &[f64] = &[0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Data {
    /// (provider, outcome) -> calls
    calls: BTreeMap<(String, String), u64>,
    latency: BTreeMap<String, Histogram>,
    tokens_in: BTreeMap<String, u64>,
    tokens_out: BTreeMap<String, u64>,
    triage: BTreeMap<String, u64>,
}

/// The service's metrics registry.
#[derive(Default)]
pub struct Metrics {
    data: Mutex<Data>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        let mut guard = match self.data.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// One model call: latency, outcome (`ok` or an error code) and tokens.
    pub fn model_call(&self, provider: &str, elapsed: Duration, outcome: Result<Usage, &str>) {
        self.with(|data| {
            let code = match &outcome {
                Ok(_) => "ok",
                Err(code) => code,
            };
            *data.calls.entry((provider.to_owned(), code.to_owned())).or_default() += 1;
            let histogram = data.latency.entry(provider.to_owned()).or_default();
            if histogram.counts.is_empty() {
                histogram.counts = vec![0; BUCKETS.len()];
            }
            let secs = elapsed.as_secs_f64();
            for (bucket, bound) in histogram.counts.iter_mut().zip(BUCKETS) {
                if secs <= *bound {
                    *bucket += 1;
                }
            }
            histogram.sum += secs;
            histogram.count += 1;
            if let Ok(usage) = outcome {
                *data.tokens_in.entry(provider.to_owned()).or_default() += u64::from(usage.input_tokens);
                *data.tokens_out.entry(provider.to_owned()).or_default() += u64::from(usage.output_tokens);
            }
        });
    }

    /// One urgent triage detection.
    pub fn triage_detected(&self, category: &str) {
        self.with(|data| *data.triage.entry(category.to_owned()).or_default() += 1);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        self.with(|data| {
            let mut out = String::new();
            out.push_str("# HELP ai_model_calls_total Model calls by provider and outcome (ok or error code).\n# TYPE ai_model_calls_total counter\n");
            for ((provider, outcome), n) in &data.calls {
                let _ = writeln!(out, "ai_model_calls_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {n}");
            }
            out.push_str("# HELP ai_model_call_duration_seconds Whole model call latency.\n# TYPE ai_model_call_duration_seconds histogram\n");
            for (provider, histogram) in &data.latency {
                for (bound, n) in BUCKETS.iter().zip(&histogram.counts) {
                    let _ = writeln!(
                        out,
                        "ai_model_call_duration_seconds_bucket{{provider=\"{provider}\",le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "ai_model_call_duration_seconds_bucket{{provider=\"{provider}\",le=\"+Inf\"}} {}",
                    histogram.count
                );
                let _ = writeln!(out, "ai_model_call_duration_seconds_sum{{provider=\"{provider}\"}} {}", histogram.sum);
                let _ = writeln!(out, "ai_model_call_duration_seconds_count{{provider=\"{provider}\"}} {}", histogram.count);
            }
            out.push_str("# HELP ai_tokens_total Tokens by provider and direction.\n# TYPE ai_tokens_total counter\n");
            for (provider, n) in &data.tokens_in {
                let _ = writeln!(out, "ai_tokens_total{{provider=\"{provider}\",direction=\"in\"}} {n}");
            }
            for (provider, n) in &data.tokens_out {
                let _ = writeln!(out, "ai_tokens_total{{provider=\"{provider}\",direction=\"out\"}} {n}");
            }
            out.push_str("# HELP ai_triage_detections_total Urgent triage detections by category.\n# TYPE ai_triage_detections_total counter\n");
            for (category, n) in &data.triage {
                let _ = writeln!(out, "ai_triage_detections_total{{category=\"{category}\"}} {n}");
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let metrics = Metrics::default();
        metrics.model_call(
            "gemini",
            Duration::from_millis(30),
            Ok(Usage {
                input_tokens: 10,
                output_tokens: 5,
            }),
        );
        metrics.model_call("gemini", Duration::from_millis(30), Err("ai_timeout"));
        metrics.triage_detected("avulsion");
        let text = metrics.render();
        assert!(text.contains("ai_model_calls_total{provider=\"gemini\",outcome=\"ok\"} 1"));
        assert!(text.contains("ai_model_calls_total{provider=\"gemini\",outcome=\"ai_timeout\"} 1"));
        assert!(text.contains("ai_model_call_duration_seconds_bucket{provider=\"gemini\",le=\"0.05\"} 2"));
        assert!(text.contains("ai_model_call_duration_seconds_bucket{provider=\"gemini\",le=\"0.01\"} 0"));
        assert!(text.contains("ai_tokens_total{provider=\"gemini\",direction=\"in\"} 10"));
        assert!(text.contains("ai_triage_detections_total{category=\"avulsion\"} 1"));
    }
}
