//! Configuration: parsed once from the environment (and `.env`), validated at start-up.
//!
//! Every field is read as an optional string by clap and validated here, so a bad value ends the
//! process with one line naming the variable instead of clap's multi-line usage error.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;

/// Command-line / environment description shown by `ai --help`.
#[derive(Debug, Default, Parser)]
#[command(
    name = "ai",
    version,
    about = "Internal AI service of the dental patient assistant: emergency triage, prompt building and model providers.",
    long_about = "Internal AI service of the dental patient assistant.\n\n\
        Every setting is read from the environment (and from a .env file in the working directory when one exists); \
        each can also be given as the matching --flag. Invalid or missing configuration ends the process with one \
        line naming the variable.\n\n\
        Routes: GET|HEAD /health (no auth); POST /v1/triage, /v1/chat, /v1/chat/stream \
        (Authorization: Bearer <AI_SERVICE_TOKEN>)."
)]
pub struct Args {
    /// Listen address of the service.
    #[arg(long, env = "AI_BIND", value_name = "ADDR", default_value = "127.0.0.1:8001")]
    pub ai_bind: Option<String>,
    /// Shared secret the api presents as `Authorization: Bearer <token>` (required).
    #[arg(long, env = "AI_SERVICE_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub ai_service_token: Option<String>,
    /// Model provider: `offline` (built-in knowledge base, no key), `gemini` or `openai` (any OpenAI-compatible server).
    #[arg(long, env = "AI_PROVIDER", value_name = "NAME", default_value = "offline")]
    pub ai_provider: Option<String>,
    /// Gemini API key (required when AI_PROVIDER=gemini); sent in the x-goog-api-key header.
    #[arg(long, env = "GEMINI_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub gemini_api_key: Option<String>,
    /// Gemini model name.
    #[arg(long, env = "GEMINI_MODEL", value_name = "MODEL", default_value = "gemini-2.5-flash")]
    pub gemini_model: Option<String>,
    /// Gemini REST base URL (the service appends /v1beta/models/...).
    #[arg(
        long,
        env = "GEMINI_BASE_URL",
        value_name = "URL",
        default_value = "https://generativelanguage.googleapis.com"
    )]
    pub gemini_base_url: Option<String>,
    /// OpenAI-compatible server (required when AI_PROVIDER=openai), e.g. http://127.0.0.1:8080 or
    /// http://127.0.0.1:11434/v1; the service calls <base>/v1/chat/completions (a trailing /v1 is accepted once).
    #[arg(long, env = "OPENAI_BASE_URL", value_name = "URL")]
    pub openai_base_url: Option<String>,
    /// Bearer key for the OpenAI-compatible server (optional: local servers often need none).
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub openai_api_key: Option<String>,
    /// Model name sent to the OpenAI-compatible server (required when AI_PROVIDER=openai).
    #[arg(long, env = "OPENAI_MODEL", value_name = "MODEL")]
    pub openai_model: Option<String>,
    /// Replace the patient's identifiers (name and its parts, email, phone, date of birth) and any
    /// e-mail address, phone number or date in notes, history and message by placeholders before a
    /// prompt leaves, and put them back in the reply: `auto` (on for gemini, and for an openai base
    /// URL that is not loopback or a private address), `always`, `never`. The offline provider
    /// never sends anything anywhere and is never redacted.
    #[arg(long, env = "AI_REDACT_PHI", value_name = "MODE", default_value = "auto")]
    pub ai_redact_phi: Option<String>,
    /// End-to-end limit of one model call in seconds (whole reply, including a streamed one).
    #[arg(long, env = "AI_TIMEOUT_SECS", value_name = "SECS", default_value = "60")]
    pub ai_timeout_secs: Option<String>,
    /// When set, Prometheus text is served at http://METRICS_BIND/metrics (never on the service port).
    #[arg(long, env = "METRICS_BIND", value_name = "ADDR")]
    pub metrics_bind: Option<String>,
    /// Tracing filter (tracing-subscriber EnvFilter syntax), e.g. `info` or `ai=debug,info`.
    #[arg(long, env = "RUST_LOG", value_name = "FILTER", default_value = "info")]
    pub rust_log: Option<String>,
}

/// Default of `AI_TIMEOUT_SECS`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// A configuration problem; its `Display` is the one line printed before exiting.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable} {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// Which model answers, with what it needs.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    Offline,
    Gemini {
        api_key: SecretString,
        model: String,
        base_url: String,
    },
    OpenAi {
        base_url: String,
        api_key: Option<SecretString>,
        model: String,
    },
}

impl ProviderConfig {
    /// The contract's provider name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Gemini { .. } => "gemini",
            Self::OpenAi { .. } => "openai",
        }
    }
}

/// `AI_REDACT_PHI`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RedactMode {
    /// On for Gemini and for an OpenAI-compatible server that is not on this machine or the
    /// clinic's own network.
    #[default]
    Auto,
    Always,
    Never,
}

/// The validated configuration of one `ai` process.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub service_token: SecretString,
    pub provider: ProviderConfig,
    pub timeout: Duration,
    pub metrics_bind: Option<SocketAddr>,
    pub log_filter: String,
    pub redact_phi: RedactMode,
}

impl Config {
    /// A configuration for tests and embedding: offline provider, given token, default timeout,
    /// `AI_REDACT_PHI=auto`.
    pub fn for_tests(token: &str) -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            service_token: SecretString::from(token.to_owned()),
            provider: ProviderConfig::Offline,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            metrics_bind: None,
            log_filter: "info".to_owned(),
            redact_phi: RedactMode::Auto,
        }
    }

    /// Whether prompts are redacted before they leave (see [`RedactMode`]). The offline provider
    /// answers inside the process, so there is nothing to redact for it.
    pub fn redacts_phi(&self) -> bool {
        match (&self.provider, self.redact_phi) {
            (ProviderConfig::Offline, _) | (_, RedactMode::Never) => false,
            (_, RedactMode::Always) | (ProviderConfig::Gemini { .. }, RedactMode::Auto) => true,
            (ProviderConfig::OpenAi { base_url, .. }, RedactMode::Auto) => !reqwest::Url::parse(base_url)
                .ok()
                .and_then(|url| url.host_str().map(is_local_host))
                .unwrap_or(false),
        }
    }
}

/// Whether a URL host is this machine or a private network: loopback, RFC 1918, link-local,
/// carrier-grade NAT (100.64/10, used by VPN meshes), IPv6 unique-local and link-local, and names
/// that cannot be public: `localhost`, `*.localhost`, single-label names (a compose service such
/// as `ollama`) and the private-use suffixes `.local`, `.lan`, `.internal`, `.home.arpa`,
/// `.localdomain`. Everything else counts as a cloud host.
pub fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return is_local_ip(ip);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    !name.is_empty()
        && (name == "localhost"
            || !name.contains('.')
            || [
                ".localhost",
                ".local",
                ".lan",
                ".internal",
                ".home.arpa",
                ".localdomain",
            ]
            .iter()
            .any(|suffix| name.ends_with(suffix)))
}

fn is_local_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_local_ip(IpAddr::V4(v4));
            }
            v6.is_loopback() || v6.is_unspecified() || v6.is_unique_local() || v6.is_unicast_link_local()
        }
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_addr(variable: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        ConfigError::new(
            variable,
            format!("must be a host:port socket address like 127.0.0.1:8001, got {value:?}"),
        )
    })
}

/// A model server's base URL: absolute, no query or fragment, and `https` unless the host is
/// loopback or private ([`is_local_host`]), so the API key and patient data never cross the
/// internet in the clear.
fn parse_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let parsed =
        reqwest::Url::parse(value).map_err(|_| ConfigError::new(variable, "must be an absolute http(s) URL"))?;
    let Some(host) = parsed
        .host_str()
        .filter(|_| matches!(parsed.scheme(), "http" | "https"))
    else {
        return Err(ConfigError::new(variable, "must be an absolute http(s) URL"));
    };
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::new(variable, "must not have a query or fragment"));
    }
    if parsed.scheme() == "http" && !is_local_host(host) {
        return Err(ConfigError::new(
            variable,
            format!(
                "must use https:// for {host}, which is not a loopback or private address \
                 (plain http would send the API key and patient data in the clear)"
            ),
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

impl TryFrom<Args> for Config {
    type Error = ConfigError;

    fn try_from(args: Args) -> Result<Self, Self::Error> {
        let bind = parse_addr(
            "AI_BIND",
            &non_empty(args.ai_bind).unwrap_or_else(|| "127.0.0.1:8001".to_owned()),
        )?;
        let service_token =
            non_empty(args.ai_service_token).ok_or_else(|| ConfigError::new("AI_SERVICE_TOKEN", "is required"))?;
        // The api enforces the same floor: a shared secret short enough to guess is no secret.
        if service_token.len() < 32 {
            return Err(ConfigError::new("AI_SERVICE_TOKEN", "must be at least 32 bytes"));
        }
        let timeout_text = non_empty(args.ai_timeout_secs).unwrap_or_else(|| "60".to_owned());
        let timeout_secs: u64 = timeout_text
            .parse()
            .ok()
            .filter(|secs| (1..=3600).contains(secs))
            .ok_or_else(|| {
                ConfigError::new(
                    "AI_TIMEOUT_SECS",
                    "must be a whole number of seconds between 1 and 3600",
                )
            })?;
        let metrics_bind = non_empty(args.metrics_bind)
            .map(|v| parse_addr("METRICS_BIND", &v))
            .transpose()?;
        let provider_name = non_empty(args.ai_provider)
            .unwrap_or_else(|| "offline".to_owned())
            .to_ascii_lowercase();
        let provider = match provider_name.as_str() {
            "offline" => ProviderConfig::Offline,
            "gemini" => ProviderConfig::Gemini {
                api_key: SecretString::from(
                    non_empty(args.gemini_api_key)
                        .ok_or_else(|| ConfigError::new("GEMINI_API_KEY", "is required when AI_PROVIDER=gemini"))?,
                ),
                model: non_empty(args.gemini_model).unwrap_or_else(|| "gemini-2.5-flash".to_owned()),
                base_url: parse_url(
                    "GEMINI_BASE_URL",
                    &non_empty(args.gemini_base_url)
                        .unwrap_or_else(|| "https://generativelanguage.googleapis.com".to_owned()),
                )?,
            },
            "openai" => ProviderConfig::OpenAi {
                base_url: parse_url(
                    "OPENAI_BASE_URL",
                    &non_empty(args.openai_base_url)
                        .ok_or_else(|| ConfigError::new("OPENAI_BASE_URL", "is required when AI_PROVIDER=openai"))?,
                )?,
                api_key: non_empty(args.openai_api_key).map(SecretString::from),
                model: non_empty(args.openai_model)
                    .ok_or_else(|| ConfigError::new("OPENAI_MODEL", "is required when AI_PROVIDER=openai"))?,
            },
            _ => {
                return Err(ConfigError::new(
                    "AI_PROVIDER",
                    format!("must be one of offline, gemini, openai, got {provider_name:?}"),
                ));
            }
        };
        let redact_phi = match non_empty(args.ai_redact_phi)
            .unwrap_or_else(|| "auto".to_owned())
            .to_ascii_lowercase()
            .as_str()
        {
            "auto" => RedactMode::Auto,
            "always" => RedactMode::Always,
            "never" => RedactMode::Never,
            other => {
                return Err(ConfigError::new(
                    "AI_REDACT_PHI",
                    format!("must be one of auto, always, never, got {other:?}"),
                ));
            }
        };
        Ok(Self {
            bind,
            service_token: SecretString::from(service_token),
            provider,
            timeout: Duration::from_secs(timeout_secs),
            metrics_bind,
            log_filter: non_empty(args.rust_log).unwrap_or_else(|| "info".to_owned()),
            redact_phi,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args {
            ai_service_token: Some("secret-secret-secret-secret-secret".into()),
            ..Args::default()
        }
    }

    #[test]
    fn defaults_give_offline_provider_on_port_8001() {
        let config = Config::try_from(args()).unwrap();
        assert_eq!(config.bind, "127.0.0.1:8001".parse().unwrap());
        assert_eq!(config.provider.name(), "offline");
        assert_eq!(config.timeout.as_secs(), DEFAULT_TIMEOUT_SECS);
    }

    #[test]
    fn missing_token_names_the_variable() {
        let err = Config::try_from(Args::default()).unwrap_err();
        assert_eq!(err.to_string(), "invalid configuration: AI_SERVICE_TOKEN is required");
    }

    #[test]
    fn short_token_is_refused() {
        let err = Config::try_from(Args {
            ai_service_token: Some("x".repeat(31)),
            ..Args::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration: AI_SERVICE_TOKEN must be at least 32 bytes"
        );
    }

    #[test]
    fn gemini_without_key_names_the_variable() {
        let err = Config::try_from(Args {
            ai_provider: Some("gemini".into()),
            ..args()
        })
        .unwrap_err();
        assert_eq!(err.variable, "GEMINI_API_KEY");
    }

    #[test]
    fn openai_needs_base_url_and_model() {
        let err = Config::try_from(Args {
            ai_provider: Some("openai".into()),
            ..args()
        })
        .unwrap_err();
        assert_eq!(err.variable, "OPENAI_BASE_URL");
        let err = Config::try_from(Args {
            ai_provider: Some("openai".into()),
            openai_base_url: Some("http://127.0.0.1:11434/v1/".into()),
            ..args()
        })
        .unwrap_err();
        assert_eq!(err.variable, "OPENAI_MODEL");
    }

    #[test]
    fn bad_values_are_rejected_with_one_line() {
        for (args, variable) in [
            (
                Args {
                    ai_timeout_secs: Some("0".into()),
                    ..args()
                },
                "AI_TIMEOUT_SECS",
            ),
            (
                Args {
                    ai_timeout_secs: Some("abc".into()),
                    ..args()
                },
                "AI_TIMEOUT_SECS",
            ),
            (
                Args {
                    ai_bind: Some("nope".into()),
                    ..args()
                },
                "AI_BIND",
            ),
            (
                Args {
                    metrics_bind: Some("nope".into()),
                    ..args()
                },
                "METRICS_BIND",
            ),
            (
                Args {
                    ai_provider: Some("claude".into()),
                    ..args()
                },
                "AI_PROVIDER",
            ),
            (
                Args {
                    ai_redact_phi: Some("sometimes".into()),
                    ..args()
                },
                "AI_REDACT_PHI",
            ),
        ] {
            let err = Config::try_from(args).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(!err.to_string().contains('\n'));
        }
    }

    fn openai(base_url: &str) -> Args {
        Args {
            ai_provider: Some("openai".into()),
            openai_base_url: Some(base_url.into()),
            openai_model: Some("m".into()),
            ..args()
        }
    }

    #[test]
    fn plain_http_is_refused_for_a_cloud_host_with_one_line_naming_the_variable() {
        for url in [
            "http://api.openai.com",
            "http://8.8.8.8:8080/v1",
            "http://[2001:4860::8888]:80",
            "http://llm.example.org",
        ] {
            let err = Config::try_from(openai(url)).unwrap_err();
            assert_eq!(err.variable, "OPENAI_BASE_URL", "{url}");
            assert!(err.to_string().contains("https"), "{err}");
            assert!(!err.to_string().contains('\n'));
        }
        let err = Config::try_from(Args {
            ai_provider: Some("gemini".into()),
            gemini_api_key: Some("k".into()),
            gemini_base_url: Some("http://generativelanguage.googleapis.com".into()),
            ..args()
        })
        .unwrap_err();
        assert_eq!(err.variable, "GEMINI_BASE_URL");
        assert!(Config::try_from(openai("https://api.openai.com")).is_ok());
    }

    #[test]
    fn plain_http_is_fine_for_loopback_and_private_hosts() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:11434/v1",
            "http://LOCALHOST.",
            "http://gpu.localhost:8000",
            "http://[::1]:8080",
            "http://10.1.2.3:8000",
            "http://172.20.0.5:8000",
            "http://192.168.1.20:11434",
            "http://169.254.10.1",
            "http://100.100.1.1:8080",
            "http://[fd12:3456::1]:8080",
            "http://[fe80::1]:8080",
            "http://[::ffff:192.168.0.9]:8080",
            "http://ollama:11434",
            "http://llm.clinic.lan",
            "http://gpu-box.local:8080",
            "http://llm.internal",
            "http://nas.home.arpa",
        ] {
            assert!(Config::try_from(openai(url)).is_ok(), "{url}");
        }
        for host in ["172.32.0.1", "100.128.0.1", "11.0.0.1", "example.com", "[2001:db8::1]"] {
            assert!(!is_local_host(host), "{host}");
        }
    }

    #[test]
    fn redaction_is_on_for_cloud_models_by_default() {
        let gemini = Config::try_from(Args {
            ai_provider: Some("gemini".into()),
            gemini_api_key: Some("k".into()),
            ..args()
        })
        .unwrap();
        assert_eq!(gemini.redact_phi, RedactMode::Auto);
        assert!(gemini.redacts_phi());
        assert!(
            Config::try_from(openai("https://api.openai.com"))
                .unwrap()
                .redacts_phi()
        );
        assert!(!Config::try_from(openai("http://127.0.0.1:8080")).unwrap().redacts_phi());
        assert!(!Config::try_from(openai("http://ollama:11434")).unwrap().redacts_phi());
        assert!(!Config::try_from(args()).unwrap().redacts_phi());
        let always = Config::try_from(Args {
            ai_redact_phi: Some("Always".into()),
            ..openai("http://127.0.0.1:8080")
        })
        .unwrap();
        assert!(always.redacts_phi());
        let never = Config::try_from(Args {
            ai_redact_phi: Some("never".into()),
            ..openai("https://api.openai.com")
        })
        .unwrap();
        assert!(!never.redacts_phi());
    }
}
