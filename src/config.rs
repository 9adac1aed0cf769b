//! Settings: `config/default.toml` < `config/<profile>.toml` < environment
//! variables (the names of CONFIG.md), validated once with every problem
//! reported together, each naming the variable to set.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const DEVELOPMENT_TOML: &str = include_str!("../config/development.toml");
const STAGING_TOML: &str = include_str!("../config/staging.toml");
const PRODUCTION_TOML: &str = include_str!("../config/production.toml");

/// Environment variables read, as (variable, setting). Aliases come before
/// the primary name so that the primary wins when both are set.
pub const VARIABLES: &[(&str, &str)] = &[
    ("APP_NAME", "app_name"),
    ("API_PORT", "port"),
    ("PORT", "port"),
    ("API_HOST", "api_host"),
    ("MAX_WORKERS", "workers"),
    ("WORKERS", "workers"),
    ("DATABASE_URL", "database_url"),
    ("DATABASE_MAX_CONNECTIONS", "database_max_connections"),
    ("BACKUP_DIR", "backup_dir"),
    ("BACKUP_INTERVAL_HOURS", "backup_interval_hours"),
    ("BACKUP_RETENTION_DAYS", "backup_retention_days"),
    ("DISK_ALERT_PERCENT", "disk_alert_percent"),
    (
        "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
        "database_acquire_timeout_seconds",
    ),
    (
        "DATABASE_QUERY_TIMEOUT_SECONDS",
        "database_query_timeout_seconds",
    ),
    ("REDIS_URL", "redis_url"),
    ("REDIS_ENABLED", "redis_enabled"),
    ("REDIS_TIMEOUT_MS", "redis_timeout_ms"),
    ("REDIS_POOL_SIZE", "redis_pool_size"),
    ("CACHE_ENABLED", "cache_enabled"),
    ("CACHE_TTL", "cache_ttl"),
    ("CACHE_NAMESPACE", "cache_namespace"),
    ("QDRANT_URL", "qdrant_url"),
    ("QDRANT_API_KEY", "qdrant_api_key"),
    ("QDRANT_COLLECTION", "qdrant_collection"),
    ("QDRANT_TIMEOUT_MS", "qdrant_timeout_ms"),
    (
        "VECTOR_REPAIR_INTERVAL_SECONDS",
        "vector_repair_interval_seconds",
    ),
    ("OPENAI_API_KEY", "venice_api_key"),
    ("LLM_API_KEY", "venice_api_key"),
    ("VENICE_API_KEY", "venice_api_key"),
    ("LLM_BASE_URL", "venice_base_url"),
    ("VENICE_BASE_URL", "venice_base_url"),
    ("COGNITION_MODEL_ID", "cognition_model_id"),
    ("RENDERER_MODEL_ID", "renderer_model_id"),
    ("EMBEDDING_MODEL_ID", "embedding_model_id"),
    ("EMBEDDING_DIMENSIONS", "embedding_dimensions"),
    ("LLM_EXTRA_BODY", "llm_extra_body"),
    ("LLM_CONTEXT_TOKENS", "llm_context_tokens"),
    ("LLM_MAX_TOKENS", "llm_max_tokens"),
    ("LLM_TIMEOUT_SECONDS", "llm_timeout_seconds"),
    ("LLM_CONNECT_TIMEOUT_SECONDS", "llm_connect_timeout_seconds"),
    ("LLM_MAX_RETRIES", "llm_max_retries"),
    ("LLM_STREAM_USAGE", "llm_stream_usage"),
    ("WORKFLOW_TIMEOUT_SECONDS", "workflow_timeout_seconds"),
    ("MASTER_API_KEY", "master_api_key"),
    ("CORS_ORIGINS", "allowed_origins"),
    ("ALLOWED_ORIGINS", "allowed_origins"),
    ("RATE_LIMIT_ENABLED", "rate_limit_enabled"),
    ("RATE_LIMIT_PER_MINUTE", "rate_limit_per_minute"),
    ("TRUST_PROXY", "trust_proxy"),
    ("TRUSTED_PROXY_HOPS", "trusted_proxy_hops"),
    ("ENABLE_API_DOCS", "enable_api_docs"),
    ("LOG_LEVEL", "log_level"),
    ("LOG_FORMAT", "log_format"),
    ("SENTRY_DSN", "sentry_dsn"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "otel_exporter_otlp_endpoint"),
    ("OTEL_EXPORTER_OTLP_PROTOCOL", "otel_exporter_otlp_protocol"),
    ("SESSION_RETENTION_DAYS", "session_retention_days"),
    (
        "RETENTION_SWEEP_INTERVAL_SECONDS",
        "retention_sweep_interval_seconds",
    ),
    ("COGNITION_EVERY_N_TURNS", "cognition_every_n_turns"),
    ("COGNITION_COOLDOWN_SECONDS", "cognition_cooldown_seconds"),
    ("HISTORY_TURNS", "history_turns"),
    ("RECALL_VECTOR_WEIGHT", "recall_vector_weight"),
    ("RECALL_RECENCY_WEIGHT", "recall_recency_weight"),
    ("RECALL_IMPORTANCE_WEIGHT", "recall_importance_weight"),
    (
        "RECALL_RECENCY_HALF_LIFE_DAYS",
        "recall_recency_half_life_days",
    ),
    ("JOB_RETRY_BACKOFF_MS", "job_retry_backoff_ms"),
    ("MAX_BODY_BYTES", "max_body_bytes"),
    ("SHUTDOWN_GRACE_SECONDS", "shutdown_grace_seconds"),
    ("MAX_CONCURRENT_TURNS", "max_concurrent_turns"),
    ("ENCRYPTION_KEY", "encryption_key"),
    ("ENCRYPTION_PREVIOUS_KEYS", "encryption_previous_keys"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Staging,
    Production,
}

impl Environment {
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("development") | Some("dev") => Ok(Self::Development),
            Some("staging") | Some("stage") => Ok(Self::Staging),
            Some("production") | Some("prod") => Ok(Self::Production),
            Some(other) => Err(format!(
                "ENVIRONMENT: '{other}' is not one of development, staging, production"
            )),
        }
    }

    /// The profile from `ENVIRONMENT`, or else from Railway's own
    /// `RAILWAY_ENVIRONMENT` (the name of a Railway environment: one that
    /// is not a profile's name is `production` when it says "prod", else
    /// `staging`, which is as strict).
    pub fn of(variables: &HashMap<String, String>) -> Result<Self, String> {
        let set = |name: &str| {
            variables
                .get(name)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };
        match (set("ENVIRONMENT"), set("RAILWAY_ENVIRONMENT")) {
            (Some(value), _) => Self::parse(Some(value)),
            (None, Some(railway)) => Ok(Self::parse(Some(railway)).unwrap_or_else(|_| {
                if railway.to_ascii_lowercase().contains("prod") {
                    Self::Production
                } else {
                    Self::Staging
                }
            })),
            (None, None) => Ok(Self::Development),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }

    fn profile_toml(self) -> &'static str {
        match self {
            Self::Development => DEVELOPMENT_TOML,
            Self::Staging => STAGING_TOML,
            Self::Production => PRODUCTION_TOML,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Console,
    Json,
}

/// Every setting, after merging; see CONFIG.md for meanings.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(skip, default = "default_environment")]
    pub environment: Environment,
    pub app_name: String,
    pub port: u16,
    pub api_host: String,
    pub workers: usize,
    pub database_url: Option<SecretString>,
    pub database_max_connections: u32,
    pub database_acquire_timeout_seconds: u64,
    pub database_query_timeout_seconds: u64,
    /// Scheduled SQLite backups: where (default: `backups/` beside the
    /// database), how often (0 = never) and for how long they are kept.
    pub backup_dir: Option<String>,
    pub backup_interval_hours: u64,
    pub backup_retention_days: u64,
    /// SQLite: `/health` turns degraded when the data disk is fuller than this.
    pub disk_alert_percent: u8,
    pub redis_url: Option<SecretString>,
    /// `false` keeps the cache in process even where `REDIS_URL` is set.
    pub redis_enabled: bool,
    pub redis_timeout_ms: u64,
    pub redis_pool_size: usize,
    pub cache_enabled: bool,
    pub cache_ttl: u64,
    pub cache_namespace: String,
    pub qdrant_url: Option<String>,
    pub qdrant_api_key: Option<SecretString>,
    pub qdrant_collection: String,
    pub qdrant_timeout_ms: u64,
    pub vector_repair_interval_seconds: u64,
    pub venice_api_key: Option<SecretString>,
    pub venice_base_url: String,
    pub cognition_model_id: String,
    pub renderer_model_id: String,
    pub embedding_model_id: Option<String>,
    pub embedding_dimensions: usize,
    pub llm_extra_body: String,
    pub llm_context_tokens: usize,
    pub llm_max_tokens: u32,
    pub llm_timeout_seconds: u64,
    pub llm_connect_timeout_seconds: u64,
    pub llm_max_retries: usize,
    pub llm_stream_usage: bool,
    pub workflow_timeout_seconds: u64,
    pub master_api_key: Option<SecretString>,
    pub allowed_origins: String,
    pub rate_limit_enabled: bool,
    pub rate_limit_per_minute: u32,
    pub trust_proxy: bool,
    /// With `trust_proxy`: how many proxies append to X-Forwarded-For.
    pub trusted_proxy_hops: u32,
    pub enable_api_docs: bool,
    pub log_level: String,
    pub log_format: LogFormat,
    /// Error tracking: 5xx answers and panics go to this Sentry project.
    pub sentry_dsn: Option<SecretString>,
    /// Traces over OTLP to this collector; `http/protobuf` or `grpc`.
    pub otel_exporter_otlp_endpoint: Option<String>,
    pub otel_exporter_otlp_protocol: String,
    pub session_retention_days: u32,
    pub retention_sweep_interval_seconds: u64,
    pub cognition_every_n_turns: u32,
    pub cognition_cooldown_seconds: u64,
    pub history_turns: u32,
    /// A hybrid search's relevance: this share of the vector list's
    /// normalised score, the rest the lexical list's (0–1).
    pub recall_vector_weight: f32,
    /// Recall's order: relevance (0–1) plus these times recency and
    /// importance (each 0–1).
    pub recall_recency_weight: f32,
    pub recall_importance_weight: f32,
    pub recall_recency_half_life_days: f32,
    pub job_retry_backoff_ms: u64,
    pub max_body_bytes: usize,
    pub shutdown_grace_seconds: u64,
    /// Turns (plain and streamed) running at once; 0 = 1024 per core.
    pub max_concurrent_turns: usize,
    pub encryption_key: Option<SecretString>,
    /// Earlier keys, comma-separated: still read, never written.
    pub encryption_previous_keys: Option<SecretString>,
}

/// Where the data lives, as `DATABASE_URL` says.
#[derive(Debug, Clone)]
pub enum Database {
    /// `memory:`: gone at exit (tests, throwaway runs).
    Memory,
    /// `sqlite://path`: one file, one process.
    Sqlite(PathBuf),
    /// `postgres://…`: shared by replicas.
    Postgres(SecretString),
}

/// Development's database when `DATABASE_URL` is unset.
pub const DEFAULT_SQLITE_URL: &str = "sqlite://data/virlife.db";

/// The file a `sqlite:` URL names: `sqlite://data/virlife.db` and
/// `sqlite:data/virlife.db` are relative to the working directory,
/// `sqlite:///var/data/virlife.db` is absolute. Query parameters are ignored.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let rest = rest.split('?').next().unwrap_or_default();
    (!rest.is_empty()).then(|| PathBuf::from(rest))
}

fn is_memory_url(url: &str) -> bool {
    matches!(url.trim(), "memory:" | "memory://" | "memory")
}

fn default_environment() -> Environment {
    Environment::Development
}

/// Variables read outside `VARIABLES`: the profile, Railway's name for
/// it, and tracing's filter.
pub const READ_ELSEWHERE: &[&str] = &["ENVIRONMENT", "RAILWAY_ENVIRONMENT", "RUST_LOG"];

/// A variable that looks like one of ours (it shares a known name's first
/// word, as `REDIS_` or `LLM_`) but is not one, with the closest known name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownVariable {
    pub name: String,
    pub closest: Option<&'static str>,
}

impl fmt::Display for UnknownVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.closest {
            Some(known) => write!(
                f,
                "{} is not a VirLife variable (did you mean {known}?)",
                self.name
            ),
            None => write!(f, "{} is not a VirLife variable; it is ignored", self.name),
        }
    }
}

/// The variables in `variables` that carry one of our prefixes but are
/// not read: a misspelt name is otherwise silently ignored.
pub fn unknown_variables(variables: &HashMap<String, String>) -> Vec<UnknownVariable> {
    let known = || {
        VARIABLES
            .iter()
            .map(|(name, _)| *name)
            .chain(READ_ELSEWHERE.iter().copied())
    };
    let prefixes: Vec<String> = known()
        .filter_map(|name| name.split_once('_').map(|(first, _)| format!("{first}_")))
        // Railway sets its own; the OpenTelemetry SDK reads many more OTEL_ ones.
        .filter(|prefix| prefix != "RAILWAY_" && prefix != "OTEL_")
        .collect();
    let mut unknown: Vec<UnknownVariable> = variables
        .keys()
        .filter(|name| prefixes.iter().any(|p| name.starts_with(p.as_str())))
        .filter(|name| !known().any(|k| k == name.as_str()))
        .map(|name| {
            let closest = known()
                .map(|k| (strsim::levenshtein(name, k), k))
                .min()
                .filter(|(distance, _)| *distance <= (name.len() / 3).max(2))
                .map(|(_, k)| k);
            UnknownVariable {
                name: name.clone(),
                closest,
            }
        })
        .collect();
    unknown.sort_by(|a, b| a.name.cmp(&b.name));
    unknown
}

/// Every problem found in the configuration, each naming its variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

fn variable_for(setting: &str) -> String {
    VARIABLES
        .iter()
        .rev()
        .find(|(_, s)| *s == setting)
        .map(|(v, _)| (*v).to_owned())
        .unwrap_or_else(|| setting.to_ascii_uppercase())
}

fn is_set(secret: &Option<SecretString>) -> bool {
    secret.is_some()
}

impl Settings {
    /// Loads from the process environment (and `.env` in development).
    pub fn from_process_env() -> Result<Self, ConfigError> {
        let environment: HashMap<String, String> = std::env::vars().collect();
        if Environment::of(&environment) == Ok(Environment::Development) {
            // Fills only variables not already set, as dotenv tools do.
            let _ = dotenvy::dotenv();
            return Self::load(&std::env::vars().collect());
        }
        Self::load(&environment)
    }

    /// Loads from the given variables: a pure function, so tests need no globals.
    pub fn load(variables: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let environment = Environment::of(variables).map_err(|problem| ConfigError {
            problems: vec![problem],
        })?;
        let mut overrides = BTreeMap::new();
        for (variable, setting) in VARIABLES {
            // Empty means unset (a copied .env.example, an unset Railway reference).
            if let Some(value) = variables.get(*variable).filter(|v| !v.trim().is_empty()) {
                overrides.insert((*setting).to_owned(), value.clone());
            }
        }
        let figment = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(Toml::string(environment.profile_toml()))
            .merge(Serialized::globals(overrides));
        let mut settings: Settings = figment.extract_lossy().map_err(|err| ConfigError {
            problems: err
                .into_iter()
                .map(|e| {
                    let setting = e.path.last().cloned().unwrap_or_default();
                    format!("{}: {}", variable_for(&setting), e.kind)
                })
                .collect(),
        })?;
        settings.environment = environment;
        settings.drop_empty_values();
        // Without a master key every caller is an admin: in development that
        // is the laptop's own business, so by default only the laptop listens.
        let host_chosen = variables
            .get("API_HOST")
            .is_some_and(|host| !host.trim().is_empty());
        if !host_chosen && !is_set(&settings.master_api_key) {
            settings.api_host = "127.0.0.1".to_owned();
        }
        settings.validate()?;
        Ok(settings)
    }

    /// An empty variable means "not set" (Railway shows unset references as "").
    fn drop_empty_values(&mut self) {
        for secret in [
            &mut self.database_url,
            &mut self.redis_url,
            &mut self.qdrant_api_key,
            &mut self.venice_api_key,
            &mut self.master_api_key,
            &mut self.encryption_key,
            &mut self.encryption_previous_keys,
            &mut self.sentry_dsn,
        ] {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose_secret().trim().is_empty())
            {
                *secret = None;
            }
        }
        for value in [
            &mut self.qdrant_url,
            &mut self.embedding_model_id,
            &mut self.backup_dir,
            &mut self.otel_exporter_otlp_endpoint,
        ] {
            if value.as_ref().is_some_and(|s| s.trim().is_empty()) {
                *value = None;
            }
        }
        if self.otel_exporter_otlp_protocol.trim().is_empty() {
            self.otel_exporter_otlp_protocol = "http/protobuf".into();
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let strict = self.environment != Environment::Development;
        if !matches!(
            self.otel_exporter_otlp_protocol.as_str(),
            "http/protobuf" | "grpc"
        ) {
            problems.push(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL: {} is not supported; use http/protobuf or grpc",
                self.otel_exporter_otlp_protocol
            ));
        }
        if strict && !is_set(&self.database_url) {
            problems.push(format!(
                "DATABASE_URL: required in {} (postgres://…, or sqlite:///path/on/a/volume.db for one replica)",
                self.environment.as_str()
            ));
        }
        if strict && matches!(self.database(), Database::Memory) {
            problems.push(format!(
                "DATABASE_URL: memory: is refused in {} (it loses everything on restart)",
                self.environment.as_str()
            ));
        }
        match &self.master_api_key {
            None if strict => problems.push(format!(
                "MASTER_API_KEY: required in {} (at least 32 characters)",
                self.environment.as_str()
            )),
            Some(key) if strict && key.expose_secret().chars().count() < 32 => {
                problems.push("MASTER_API_KEY: must be at least 32 characters".to_owned())
            }
            _ => {}
        }
        if !is_set(&self.master_api_key) && !is_loopback(&self.api_host) {
            problems.push(format!(
                "API_HOST: {} is reachable from other machines, and without MASTER_API_KEY \
                 every caller is an admin; set MASTER_API_KEY (at least 32 characters) or \
                 bind 127.0.0.1",
                self.api_host
            ));
        }
        if strict && !is_set(&self.venice_api_key) {
            problems.push(format!(
                "VENICE_API_KEY: required in {} (the offline LLM is for development)",
                self.environment.as_str()
            ));
        }
        if self.environment == Environment::Production
            && self.cors_origins().iter().any(|o| o == "*")
        {
            problems.push("ALLOWED_ORIGINS: '*' is refused in production; list the origins".into());
        }
        if let Some(url) = &self.database_url {
            let url = url.expose_secret();
            let postgres = ["postgres://", "postgresql://", "postgresql+asyncpg://"]
                .iter()
                .any(|scheme| url.starts_with(scheme));
            let sqlite = url.starts_with("sqlite:");
            if sqlite && sqlite_path(url).is_none() {
                problems.push(
                    "DATABASE_URL: sqlite: needs a file, as in sqlite://data/virlife.db".into(),
                );
            } else if !(postgres || sqlite || is_memory_url(url)) {
                problems.push(
                    "DATABASE_URL: must start with postgres://, postgresql://, postgresql+asyncpg:// \
                     or sqlite:, or be memory:"
                        .into(),
                );
            }
        }
        if let Some(url) = &self.redis_url
            && !(url.expose_secret().starts_with("redis://")
                || url.expose_secret().starts_with("rediss://"))
        {
            problems.push("REDIS_URL: must start with redis:// or rediss://".into());
        }
        if let Some(url) = &self.qdrant_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push("QDRANT_URL: must start with http:// or https://".into());
        }
        if !(self.venice_base_url.starts_with("http://")
            || self.venice_base_url.starts_with("https://"))
        {
            problems.push("VENICE_BASE_URL: must start with http:// or https://".into());
        }
        if !(1..=3600).contains(&self.workflow_timeout_seconds) {
            problems.push("WORKFLOW_TIMEOUT_SECONDS: must be between 1 and 3600".into());
        }
        if self.rate_limit_enabled && self.rate_limit_per_minute == 0 {
            problems
                .push("RATE_LIMIT_PER_MINUTE: must be at least 1 when rate limiting is on".into());
        }
        if self.llm_extra_body_object().is_none() {
            problems.push("LLM_EXTRA_BODY: must be a JSON object (or empty)".into());
        }
        for (variable, value) in [
            ("RECALL_RECENCY_WEIGHT", self.recall_recency_weight),
            ("RECALL_IMPORTANCE_WEIGHT", self.recall_importance_weight),
        ] {
            if !(value.is_finite() && (0.0..=10.0).contains(&value)) {
                problems.push(format!("{variable}: must be between 0 and 10"));
            }
        }
        if !(self.recall_vector_weight.is_finite()
            && (0.0..=1.0).contains(&self.recall_vector_weight))
        {
            problems.push("RECALL_VECTOR_WEIGHT: must be between 0 and 1".into());
        }
        if !(self.recall_recency_half_life_days.is_finite()
            && self.recall_recency_half_life_days > 0.0)
        {
            problems
                .push("RECALL_RECENCY_HALF_LIFE_DAYS: must be a positive number of days".into());
        }
        if self.llm_context_tokens < 512 {
            problems.push("LLM_CONTEXT_TOKENS: must be at least 512".into());
        }
        for (variable, value) in [
            ("LLM_MAX_TOKENS", u64::from(self.llm_max_tokens)),
            ("LLM_TIMEOUT_SECONDS", self.llm_timeout_seconds),
            (
                "LLM_CONNECT_TIMEOUT_SECONDS",
                self.llm_connect_timeout_seconds,
            ),
        ] {
            if value == 0 {
                problems.push(format!("{variable}: must be at least 1"));
            }
        }
        if !(8..=8192).contains(&self.embedding_dimensions) {
            problems.push("EMBEDDING_DIMENSIONS: must be between 8 and 8192".into());
        }
        if !["TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR"]
            .contains(&self.log_level.to_ascii_uppercase().as_str())
        {
            problems.push("LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR".into());
        }
        for (variable, value) in [
            (
                "SESSION_RETENTION_DAYS",
                u64::from(self.session_retention_days),
            ),
            (
                "COGNITION_EVERY_N_TURNS",
                u64::from(self.cognition_every_n_turns),
            ),
            (
                "DATABASE_MAX_CONNECTIONS",
                u64::from(self.database_max_connections),
            ),
            ("HISTORY_TURNS", u64::from(self.history_turns)),
            (
                "RETENTION_SWEEP_INTERVAL_SECONDS",
                self.retention_sweep_interval_seconds,
            ),
            ("CACHE_TTL", self.cache_ttl),
            ("REDIS_TIMEOUT_MS", self.redis_timeout_ms),
            ("QDRANT_TIMEOUT_MS", self.qdrant_timeout_ms),
            (
                "VECTOR_REPAIR_INTERVAL_SECONDS",
                self.vector_repair_interval_seconds,
            ),
            ("REDIS_POOL_SIZE", self.redis_pool_size as u64),
            (
                "DATABASE_ACQUIRE_TIMEOUT_SECONDS",
                self.database_acquire_timeout_seconds,
            ),
            (
                "DATABASE_QUERY_TIMEOUT_SECONDS",
                self.database_query_timeout_seconds,
            ),
        ] {
            if value == 0 {
                problems.push(format!("{variable}: must be at least 1"));
            }
        }
        if self.cache_namespace.is_empty()
            || !self
                .cache_namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            problems.push("CACHE_NAMESPACE: must be letters, digits, '-' or '_'".into());
        }
        if !(1..=100).contains(&self.disk_alert_percent) {
            problems.push("DISK_ALERT_PERCENT: must be between 1 and 100".into());
        }
        if self.backup_retention_days == 0 {
            problems.push("BACKUP_RETENTION_DAYS: must be at least 1".into());
        }
        if self.max_body_bytes < 1024 {
            problems.push("MAX_BODY_BYTES: must be at least 1024".into());
        }
        if let Some(key) = &self.encryption_key
            && decode_key(key.expose_secret()).is_none()
        {
            problems.push("ENCRYPTION_KEY: must be 32 bytes, as base64 or hex".into());
        }
        if self.encryption_previous_keys().is_none() {
            problems.push(
                "ENCRYPTION_PREVIOUS_KEYS: each comma-separated key must be 32 bytes, as base64 or hex"
                    .into(),
            );
        }
        if self.encryption_previous_keys.is_some() && self.encryption_key.is_none() {
            problems.push("ENCRYPTION_KEY: required when ENCRYPTION_PREVIOUS_KEYS is set".into());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// Provider-specific fields merged into every chat request. Unset on
    /// Venice, the default keeps Venice's own system prompt from overriding
    /// the persona.
    pub fn llm_extra_body_object(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        let text = self.llm_extra_body.trim();
        if text.is_empty() {
            let mut defaults = serde_json::Map::new();
            if self.venice_base_url.contains("venice.ai") {
                defaults.insert(
                    "venice_parameters".into(),
                    serde_json::json!({ "include_venice_system_prompt": false }),
                );
            }
            return Some(defaults);
        }
        match serde_json::from_str(text) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    pub fn cors_origins(&self) -> Vec<String> {
        self.allowed_origins
            .split(',')
            .map(|o| o.trim().to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }

    pub fn workflow_timeout(&self) -> Duration {
        Duration::from_secs(self.workflow_timeout_seconds)
    }

    /// Where the data lives: `DATABASE_URL`, or in development without it
    /// a SQLite file in `data/` (the volatile store where this binary was
    /// built without SQLite).
    pub fn database(&self) -> Database {
        match &self.database_url {
            None if self.environment == Environment::Development && cfg!(feature = "sqlite") => {
                Database::Sqlite(sqlite_path(DEFAULT_SQLITE_URL).unwrap_or_default())
            }
            None => Database::Memory,
            Some(url) => {
                let text = url.expose_secret();
                if is_memory_url(text) {
                    Database::Memory
                } else if let Some(path) = sqlite_path(text) {
                    Database::Sqlite(path)
                } else {
                    Database::Postgres(url.clone())
                }
            }
        }
    }

    /// Where scheduled backups of a SQLite database go.
    pub fn backup_dir_for(&self, database: &std::path::Path) -> PathBuf {
        match &self.backup_dir {
            Some(dir) => PathBuf::from(dir),
            None => database
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."))
                .join("backups"),
        }
    }

    /// The current encryption key, decoded (validated at load).
    pub fn encryption_key_bytes(&self) -> Option<[u8; 32]> {
        self.encryption_key
            .as_ref()
            .and_then(|k| decode_key(k.expose_secret()))
    }

    /// Earlier keys, decoded; `None` when one of them is invalid.
    pub fn encryption_previous_keys(&self) -> Option<Vec<[u8; 32]>> {
        match &self.encryption_previous_keys {
            None => Some(Vec::new()),
            Some(keys) => keys
                .expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(decode_key)
                .collect(),
        }
    }

    /// The settings as `check` prints them: secrets as `***`.
    pub fn redacted_summary(&self) -> Vec<(&'static str, String)> {
        let secret =
            |s: &Option<SecretString>| if is_set(s) { "***" } else { "(unset)" }.to_owned();
        vec![
            ("ENVIRONMENT", self.environment.as_str().to_owned()),
            ("PORT", self.port.to_string()),
            (
                "DATABASE_URL",
                match self.database() {
                    // A file path is no secret; a PostgreSQL URL holds a password.
                    Database::Sqlite(path) => format!("sqlite://{}", path.display()),
                    Database::Memory => "memory:".into(),
                    Database::Postgres(_) => "***".into(),
                },
            ),
            ("REDIS_URL", secret(&self.redis_url)),
            (
                "QDRANT_URL",
                self.qdrant_url.clone().unwrap_or_else(|| "(unset)".into()),
            ),
            ("VENICE_API_KEY", secret(&self.venice_api_key)),
            ("VENICE_BASE_URL", self.venice_base_url.clone()),
            ("MASTER_API_KEY", secret(&self.master_api_key)),
            ("ENCRYPTION_KEY", secret(&self.encryption_key)),
            ("ALLOWED_ORIGINS", self.allowed_origins.clone()),
            ("SENTRY_DSN", secret(&self.sentry_dsn)),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                match &self.otel_exporter_otlp_endpoint {
                    Some(endpoint) => format!("{endpoint} ({})", self.otel_exporter_otlp_protocol),
                    None => "(unset)".into(),
                },
            ),
            (
                "RATE_LIMIT_PER_MINUTE",
                if self.rate_limit_enabled {
                    self.rate_limit_per_minute.to_string()
                } else {
                    "off".into()
                },
            ),
        ]
    }
}

/// A 32-byte key given as hex (64 chars) or base64.
pub fn decode_key(value: &str) -> Option<[u8; 32]> {
    use base64::Engine;
    let value = value.trim();
    let bytes = if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&value[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(value)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value))
            .ok()?
    };
    bytes.try_into().ok()
}

/// Whether only this machine can reach an address.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn development_needs_nothing_and_uses_profile_defaults() {
        let s = Settings::load(&vars(&[])).unwrap();
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.port, 8000);
        assert_eq!(s.log_format, LogFormat::Console);
        assert!(!s.rate_limit_enabled);
        assert!(s.enable_api_docs);
        assert_eq!(s.workflow_timeout_seconds, 120);
    }

    #[test]
    fn variables_override_profiles_and_primary_names_beat_aliases() {
        let s = Settings::load(&vars(&[
            ("ENVIRONMENT", "dev"),
            ("PORT", "9000"),
            ("API_PORT", "9001"),
            ("RATE_LIMIT_ENABLED", "true"),
            ("RATE_LIMIT_PER_MINUTE", "3"),
            ("CORS_ORIGINS", "https://a.example, https://b.example"),
        ]))
        .unwrap();
        assert_eq!(s.port, 9000);
        assert!(s.rate_limit_enabled);
        assert_eq!(s.rate_limit_per_minute, 3);
        assert_eq!(s.cors_origins(), ["https://a.example", "https://b.example"]);
    }

    #[test]
    fn production_lists_every_missing_variable_at_once() {
        let err = Settings::load(&vars(&[("ENVIRONMENT", "prod"), ("ALLOWED_ORIGINS", "*")]))
            .unwrap_err();
        let text = err.to_string();
        for variable in [
            "DATABASE_URL",
            "MASTER_API_KEY",
            "VENICE_API_KEY",
            "ALLOWED_ORIGINS",
        ] {
            assert!(text.contains(variable), "{variable} missing from {text}");
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = Settings::load(&vars(&[("PORT", "eighty")])).unwrap_err();
        assert!(err.problems[0].starts_with("PORT:"), "{err}");
        let err = Settings::load(&vars(&[
            ("DATABASE_URL", "mysql://x"),
            ("ENCRYPTION_KEY", "short"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("DATABASE_URL"));
        assert!(err.to_string().contains("ENCRYPTION_KEY"));
        assert!(Settings::load(&vars(&[("ENVIRONMENT", "qa")])).is_err());
    }

    #[test]
    fn empty_variables_count_as_unset_and_secrets_are_redacted() {
        let s = Settings::load(&vars(&[("REDIS_URL", ""), ("MASTER_API_KEY", "s3cret")])).unwrap();
        assert!(s.redis_url.is_none());
        let summary = format!("{:?} {:?}", s.redacted_summary(), s);
        assert!(!summary.contains("s3cret"));
    }

    #[test]
    fn venice_gets_its_system_prompt_switched_off_unless_told_otherwise() {
        let venice = Settings::load(&vars(&[])).unwrap();
        assert_eq!(
            venice.llm_extra_body_object().unwrap()["venice_parameters"]["include_venice_system_prompt"],
            false
        );
        let other =
            Settings::load(&vars(&[("LLM_BASE_URL", "http://127.0.0.1:11434/v1")])).unwrap();
        assert!(other.llm_extra_body_object().unwrap().is_empty());
        let custom = Settings::load(&vars(&[("LLM_EXTRA_BODY", r#"{"top_p": 0.9}"#)])).unwrap();
        assert_eq!(custom.llm_extra_body_object().unwrap()["top_p"], 0.9);
    }

    #[test]
    fn the_env_example_lists_every_variable_and_loads_as_it_is() {
        let example = include_str!("../.env.example");
        let parsed: HashMap<String, String> = dotenvy::from_read_iter(example.as_bytes())
            .map(|item| item.expect("a valid .env line"))
            .collect();
        for (variable, _) in VARIABLES {
            // Aliases are named in the comment of their primary variable.
            assert!(
                parsed.contains_key(*variable) || example.contains(*variable),
                "{variable} is missing from .env.example"
            );
        }
        let settings = Settings::load(&parsed).expect(".env.example loads");
        assert_eq!(settings.app_name, "VirLife Backend");
        assert_eq!(settings.port, 8000);
        assert!(settings.database_url.is_none());
    }

    #[test]
    fn the_database_is_sqlite_by_default_in_development_and_named_by_its_url() {
        let default = Settings::load(&vars(&[])).unwrap();
        match default.database() {
            Database::Sqlite(path) if cfg!(feature = "sqlite") => {
                assert_eq!(path, PathBuf::from("data/virlife.db"));
                assert_eq!(default.backup_dir_for(&path), PathBuf::from("data/backups"));
            }
            Database::Memory if !cfg!(feature = "sqlite") => {}
            other => panic!("{other:?}"),
        }
        let memory = Settings::load(&vars(&[("DATABASE_URL", "memory:")])).unwrap();
        assert!(matches!(memory.database(), Database::Memory));
        let absolute = Settings::load(&vars(&[
            ("DATABASE_URL", "sqlite:///data/world.db"),
            ("BACKUP_DIR", "/backups"),
        ]))
        .unwrap();
        assert!(
            matches!(absolute.database(), Database::Sqlite(p) if p == Path::new("/data/world.db"))
        );
        assert_eq!(
            absolute.backup_dir_for(Path::new("/data/world.db")),
            PathBuf::from("/backups")
        );
        let postgres = Settings::load(&vars(&[("DATABASE_URL", "postgres://u:p@h/db")])).unwrap();
        assert!(matches!(postgres.database(), Database::Postgres(_)));
        // A file path is no secret; a PostgreSQL URL is.
        let shown = |s: &Settings| {
            s.redacted_summary()
                .into_iter()
                .find(|(name, _)| *name == "DATABASE_URL")
                .unwrap()
                .1
        };
        assert_eq!(shown(&absolute), "sqlite:///data/world.db");
        assert_eq!(shown(&postgres), "***");
    }

    #[test]
    fn production_refuses_memory_and_a_sqlite_url_without_a_file() {
        let production = |url: &str| {
            Settings::load(&vars(&[
                ("ENVIRONMENT", "production"),
                ("DATABASE_URL", url),
                ("MASTER_API_KEY", "0123456789abcdef0123456789abcdef"),
                ("VENICE_API_KEY", "sk-test"),
                ("ALLOWED_ORIGINS", "https://game.example"),
            ]))
        };
        let problems = production("memory:").unwrap_err().problems;
        assert!(
            problems.iter().any(|p| p.contains("memory: is refused")),
            "{problems:?}"
        );
        let problems = production("sqlite://").unwrap_err().problems;
        assert!(
            problems.iter().any(|p| p.contains("needs a file")),
            "{problems:?}"
        );
        let problems = production("mysql://h/db").unwrap_err().problems;
        assert!(
            problems.iter().any(|p| p.starts_with("DATABASE_URL")),
            "{problems:?}"
        );
        assert!(production("sqlite:///data/virlife.db").is_ok());
    }

    /// The variables the README's table names (backticked, upper case).
    fn readme_variables() -> Vec<String> {
        let readme = include_str!("../README.md");
        let table = readme
            .split("| variable | meaning | default |")
            .nth(1)
            .expect("the README has the variables table");
        let table = table.split("\n\n").next().unwrap_or_default();
        let mut names = Vec::new();
        for row in table.lines().filter(|l| l.starts_with("| `")) {
            let first_cell = row.split(" | ").next().unwrap_or_default();
            for piece in first_cell.split('`').skip(1).step_by(2) {
                if piece.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    names.push(piece.to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn every_variable_read_is_documented_and_every_documented_one_is_read() {
        let read_elsewhere = READ_ELSEWHERE;
        let read: Vec<&str> = VARIABLES.iter().map(|(name, _)| *name).collect();
        let documented = readme_variables();
        for name in &read {
            assert!(
                documented.iter().any(|d| d == name),
                "{name} is read but not in the README's table"
            );
        }
        for name in &documented {
            assert!(
                read.contains(&name.as_str()) || read_elsewhere.contains(&name.as_str()),
                "{name} is in the README's table but never read"
            );
        }
        let example = include_str!("../.env.example");
        for line in example.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let Some((name, _)) = line.split_once('=') else {
                continue;
            };
            let name = name.trim();
            assert!(
                read.contains(&name) || read_elsewhere.contains(&name),
                "{name} is in .env.example but never read"
            );
        }
    }

    #[test]
    fn without_a_master_key_only_this_machine_may_listen() {
        let laptop = Settings::load(&vars(&[])).unwrap();
        assert_eq!(laptop.api_host, "127.0.0.1");
        let keyed = Settings::load(&vars(&[("MASTER_API_KEY", &"k".repeat(32))])).unwrap();
        assert_eq!(keyed.api_host, "::");
        let exposed = Settings::load(&vars(&[("API_HOST", "0.0.0.0")])).unwrap_err();
        let message = exposed.problems.join("; ");
        assert!(
            message.contains("API_HOST") && message.contains("MASTER_API_KEY"),
            "{message}"
        );
        assert!(Settings::load(&vars(&[("API_HOST", "::1")])).is_ok());
    }

    #[test]
    fn the_seeds_variables_are_honoured() {
        let settings = Settings::load(&vars(&[
            ("MAX_WORKERS", "3"),
            ("REDIS_ENABLED", "false"),
            ("REDIS_URL", "redis://localhost:6379"),
        ]))
        .unwrap();
        assert_eq!(settings.workers, 3);
        assert!(!settings.redis_enabled);
        // WORKERS wins over its alias.
        let both = Settings::load(&vars(&[("MAX_WORKERS", "3"), ("WORKERS", "5")])).unwrap();
        assert_eq!(both.workers, 5);
        let railway = |name: &str, environment: Option<&str>| {
            let mut variables = vars(&[("RAILWAY_ENVIRONMENT", name)]);
            if let Some(environment) = environment {
                variables.insert("ENVIRONMENT".into(), environment.into());
            }
            Environment::of(&variables).unwrap()
        };
        assert_eq!(railway("production", None), Environment::Production);
        assert_eq!(railway("prod-eu", None), Environment::Production);
        assert_eq!(railway("staging", None), Environment::Staging);
        assert_eq!(railway("pr-42", None), Environment::Staging);
        assert_eq!(
            railway("production", Some("development")),
            Environment::Development
        );
        assert_eq!(
            Environment::of(&vars(&[])).unwrap(),
            Environment::Development
        );
    }

    #[test]
    fn misspelt_variables_with_our_prefixes_are_named_with_the_closest_known_one() {
        let unknown = unknown_variables(&vars(&[
            ("REDIS_URLL", "x"),
            ("DATABSE_URL", "x"),
            ("LLM_MODEL", "x"),
            ("PATH", "/bin"),
            ("RAILWAY_SERVICE_NAME", "virlife"),
            ("REDIS_URL", "redis://h"),
        ]));
        let named: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        assert_eq!(
            named,
            [
                "LLM_MODEL is not a VirLife variable; it is ignored",
                "REDIS_URLL is not a VirLife variable (did you mean REDIS_URL?)",
            ],
            "DATABSE_URL has no prefix of ours; PATH and RAILWAY_* are not ours"
        );
    }

    #[test]
    fn the_query_timeout_variable_is_read() {
        let settings = Settings::load(&vars(&[("DATABASE_QUERY_TIMEOUT_SECONDS", "17")])).unwrap();
        assert_eq!(settings.database_query_timeout_seconds, 17);
    }

    #[test]
    fn encryption_keys_decode_from_hex_or_base64() {
        assert!(decode_key(&"ab".repeat(32)).is_some());
        assert!(decode_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_some());
        assert!(decode_key("abcd").is_none());
    }
}
