//! Settings, read once at start-up from the environment. Bad settings stop the server with a
//! message that names the variable; nothing is guessed silently.

use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::STANDARD, Engine};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// The 32-byte key that encrypts secrets at rest. Deliberately not `Debug`-printable in full.
#[derive(Clone)]
pub struct MasterKey(pub [u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn from_base64(s: &str) -> Result<Self> {
        let bytes = STANDARD
            .decode(s.trim())
            .context("AXIS_MASTER_KEY is not valid base64")?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            anyhow::anyhow!("AXIS_MASTER_KEY must decode to 32 bytes, not {}", b.len())
        })?;
        Ok(MasterKey(key))
    }

    pub fn generate() -> Self {
        use rand::RngCore;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        MasterKey(key)
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

/// WhatsApp credentials supplied by the server's environment (`WHATSAPP_*`), used by every user
/// who has not connected an account of their own. Debug hides the secrets.
#[derive(Clone)]
pub struct EnvWhatsApp {
    pub phone_number_id: String,
    pub access_token: secrecy::SecretString,
    pub business_account_id: Option<String>,
    pub app_id: Option<String>,
    pub app_secret: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for EnvWhatsApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvWhatsApp")
            .field("phone_number_id", &self.phone_number_id)
            .finish_non_exhaustive()
    }
}

/// The Graph API version used by default; Meta supports each version for about two years.
pub const DEFAULT_GRAPH_VERSION: &str = "v23.0";

#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub master_key: MasterKey,
    /// Where this server is reached from outside, without a trailing slash.
    pub public_url: String,
    /// Use the last `X-Forwarded-For` entry as the client address (only behind a trusted proxy).
    pub trust_proxy: bool,
    /// Older master keys still accepted for decryption while secrets are re-encrypted.
    pub previous_master_keys: Vec<MasterKey>,
    /// `WHATSAPP_GRAPH_URL`: Meta's Graph API, or a simulator.
    pub graph_url: String,
    /// `WHATSAPP_GRAPH_VERSION`, e.g. `v23.0`.
    pub graph_version: String,
    /// Whether the built-in Cloud API sandbox runs (`AXIS_SANDBOX`).
    pub sandbox: bool,
    /// Where the sandbox listens (`AXIS_SANDBOX_ADDR`; port 0 picks a free port).
    pub sandbox_addr: std::net::SocketAddr,
    pub env_whatsapp: Option<EnvWhatsApp>,
    /// How invoices are sent: pacing, retries, reconciliation (see [`OutboxSettings`]).
    pub outbox: OutboxSettings,
}

/// Settings of the WhatsApp outbox worker. Every one has an environment variable (README).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxSettings {
    /// `AXIS_OUTBOX_WORKER`: run the send worker in this instance (default on).
    pub worker: bool,
    /// `WHATSAPP_THROUGHPUT`: messages a second per phone number (Meta's default is 80).
    pub throughput_per_sec: u32,
    /// `WHATSAPP_PAIR_INTERVAL_SECS`: least time between two messages to the same tenant.
    pub pair_interval: std::time::Duration,
    /// `AXIS_OUTBOX_CONCURRENCY`: sends in progress at once in this instance.
    pub concurrency: usize,
    /// `AXIS_OUTBOX_MAX_ATTEMPTS`: calls to Meta before a retryable failure becomes final.
    pub max_attempts: i64,
    /// `AXIS_OUTBOX_RETRY_BASE_MS`: first retry delay; it doubles each time (with jitter).
    pub retry_base: std::time::Duration,
    /// `AXIS_OUTBOX_RECONCILE_SECS`: after a time-out, how long to wait for a webhook telling
    /// whether Meta took the message before sending it again.
    pub reconcile: std::time::Duration,
    /// `AXIS_OUTBOX_LEASE_SECS`: a claimed send whose worker vanished is taken over after this.
    pub lease: std::time::Duration,
    /// `WHATSAPP_HTTP_TIMEOUT_SECS`: how long one call to the Graph API may take.
    pub http_timeout: std::time::Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        use std::time::Duration;
        OutboxSettings {
            worker: true,
            throughput_per_sec: 80,
            pair_interval: Duration::from_secs(6),
            concurrency: 32,
            max_attempts: 8,
            retry_base: Duration::from_secs(2),
            reconcile: Duration::from_secs(120),
            lease: Duration::from_secs(300),
            http_timeout: Duration::from_secs(20),
        }
    }
}

impl Config {
    /// Reads the process environment. `site_addr` is Leptos's listening address, used for the
    /// default public URL.
    pub fn from_env(site_addr: std::net::SocketAddr) -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok(), site_addr)
    }

    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        site_addr: std::net::SocketAddr,
    ) -> Result<Self> {
        let var = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let env = match var("AXIS_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => bail!("AXIS_ENV must be `development` or `production`, not `{other}`"),
        };
        let data_dir = PathBuf::from(var("AXIS_DATA_DIR").unwrap_or_else(|| "./data".into()));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create AXIS_DATA_DIR {}", data_dir.display()))?;

        let database_url = match var("DATABASE_URL") {
            Some(url) => url,
            None => format!("sqlite://{}?mode=rwc", data_dir.join("axis.db").display()),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL must start with sqlite:, postgres:// or postgresql://");
        }

        let master_key = match var("AXIS_MASTER_KEY") {
            Some(k) => MasterKey::from_base64(&k)?,
            None if env == Environment::Production => {
                bail!("AXIS_MASTER_KEY is required when AXIS_ENV=production (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)")
            }
            None => load_or_create_dev_key(&data_dir)?,
        };

        let public_url = var("AXIS_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{site_addr}"))
            .trim_end_matches('/')
            .to_string();
        let parsed = url::Url::parse(&public_url).context("AXIS_PUBLIC_URL is not a valid URL")?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            bail!("AXIS_PUBLIC_URL must be an http:// or https:// URL with a host");
        }
        if env == Environment::Production && parsed.scheme() != "https" {
            bail!("AXIS_PUBLIC_URL must be https:// in production (Meta only calls https webhooks and session cookies need Secure)");
        }

        let trust_proxy =
            flag(var("AXIS_TRUST_PROXY").as_deref(), "AXIS_TRUST_PROXY")?.unwrap_or(false);
        let previous_master_keys = var("AXIS_MASTER_KEY_PREVIOUS")
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(MasterKey::from_base64)
                    .collect::<Result<Vec<_>>>()
            })
            .transpose()
            .context("AXIS_MASTER_KEY_PREVIOUS must be a comma-separated list of base64 keys")?
            .unwrap_or_default();

        let graph_url = var("WHATSAPP_GRAPH_URL")
            .unwrap_or_else(|| "https://graph.facebook.com".into())
            .trim_end_matches('/')
            .to_string();
        let g = url::Url::parse(&graph_url).context("WHATSAPP_GRAPH_URL is not a valid URL")?;
        if !matches!(g.scheme(), "http" | "https") {
            bail!("WHATSAPP_GRAPH_URL must be an http:// or https:// URL");
        }
        let graph_version =
            var("WHATSAPP_GRAPH_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into());
        if !is_graph_version(&graph_version) {
            bail!("WHATSAPP_GRAPH_VERSION must look like v23.0, not `{graph_version}`");
        }
        let sandbox = flag(var("AXIS_SANDBOX").as_deref(), "AXIS_SANDBOX")?
            .unwrap_or(env == Environment::Development);
        let sandbox_addr = var("AXIS_SANDBOX_ADDR")
            .unwrap_or_else(|| "127.0.0.1:0".into())
            .parse()
            .context("AXIS_SANDBOX_ADDR must be an address like 127.0.0.1:3101")?;

        let env_whatsapp = match (
            var("WHATSAPP_PHONE_NUMBER_ID"),
            var("WHATSAPP_ACCESS_TOKEN"),
        ) {
            (Some(phone_number_id), Some(token)) => {
                if !phone_number_id.chars().all(|c| c.is_ascii_digit()) {
                    bail!("WHATSAPP_PHONE_NUMBER_ID must be the numeric Phone Number ID");
                }
                let app_id = var("WHATSAPP_APP_ID");
                let app_secret = var("WHATSAPP_APP_SECRET").map(secrecy::SecretString::from);
                if app_id.is_some() != app_secret.is_some() {
                    bail!("set both WHATSAPP_APP_ID and WHATSAPP_APP_SECRET, or neither");
                }
                Some(EnvWhatsApp {
                    phone_number_id,
                    access_token: secrecy::SecretString::from(token),
                    business_account_id: var("WHATSAPP_BUSINESS_ACCOUNT_ID"),
                    app_id,
                    app_secret,
                })
            }
            (None, None) => None,
            _ => bail!("set both WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_ACCESS_TOKEN, or neither"),
        };

        let number = |k: &str, min: u64, max: u64| -> Result<Option<u64>> {
            match var(k) {
                None => Ok(None),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
                    _ => bail!("{k} must be a whole number from {min} to {max}, not `{v}`"),
                },
            }
        };
        let d = OutboxSettings::default();
        let secs = std::time::Duration::from_secs;
        let outbox = OutboxSettings {
            worker: flag(var("AXIS_OUTBOX_WORKER").as_deref(), "AXIS_OUTBOX_WORKER")?
                .unwrap_or(d.worker),
            throughput_per_sec: number("WHATSAPP_THROUGHPUT", 1, 10_000)?
                .map_or(d.throughput_per_sec, |n| n as u32),
            pair_interval: number("WHATSAPP_PAIR_INTERVAL_SECS", 0, 3600)?
                .map_or(d.pair_interval, secs),
            concurrency: number("AXIS_OUTBOX_CONCURRENCY", 1, 1024)?
                .map_or(d.concurrency, |n| n as usize),
            max_attempts: number("AXIS_OUTBOX_MAX_ATTEMPTS", 1, 100)?
                .map_or(d.max_attempts, |n| n as i64),
            retry_base: number("AXIS_OUTBOX_RETRY_BASE_MS", 1, 3_600_000)?
                .map_or(d.retry_base, std::time::Duration::from_millis),
            reconcile: number("AXIS_OUTBOX_RECONCILE_SECS", 1, 7 * 86_400)?
                .map_or(d.reconcile, secs),
            lease: number("AXIS_OUTBOX_LEASE_SECS", 1, 86_400)?.map_or(d.lease, secs),
            http_timeout: number("WHATSAPP_HTTP_TIMEOUT_SECS", 1, 600)?
                .map_or(d.http_timeout, secs),
        };

        Ok(Config {
            outbox,
            env,
            data_dir,
            database_url,
            master_key,
            public_url,
            trust_proxy,
            previous_master_keys,
            graph_url,
            graph_version,
            sandbox,
            sandbox_addr,
            env_whatsapp,
        })
    }

    pub fn public_is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    pub fn public_origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn flag(value: Option<&str>, name: &str) -> Result<Option<bool>> {
    match value {
        None => Ok(None),
        Some("1" | "true" | "yes" | "on") => Ok(Some(true)),
        Some("0" | "false" | "no" | "off") => Ok(Some(false)),
        Some(other) => bail!("{name} must be on or off, not `{other}`"),
    }
}

fn is_graph_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
                && !minor.is_empty()
        })
}

/// Development convenience: keep a generated key in the data directory, readable by the owner only.
fn load_or_create_dev_key(data_dir: &Path) -> Result<MasterKey> {
    let path = data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return MasterKey::from_base64(&text)
            .with_context(|| format!("{} is corrupt", path.display()));
    }
    let key = MasterKey::generate();
    write_private(&path, key.to_base64().as_bytes())?;
    tracing::warn!(
        path = %path.display(),
        "AXIS_MASTER_KEY is not set: generated a development key. Set AXIS_MASTER_KEY in production; losing this key loses every stored secret."
    );
    Ok(key)
}

fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)], dir: &Path) -> Result<Config> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("AXIS_DATA_DIR".into())
            .or_insert_with(|| dir.display().to_string());
        Config::from_lookup(|k| map.get(k).cloned(), "127.0.0.1:3000".parse().unwrap())
    }

    #[test]
    fn defaults_need_nothing_and_create_a_private_dev_key() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(&[], dir.path()).unwrap();
        assert_eq!(c.env, Environment::Development);
        assert!(c.is_sqlite());
        assert!(c.database_url.ends_with("axis.db?mode=rwc"));
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        let key_path = dir.path().join("master.key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        // The same key comes back on the next start.
        let again = cfg(&[], dir.path()).unwrap();
        assert_eq!(again.master_key.0, c.master_key.0);
    }

    #[test]
    fn production_refuses_to_start_without_a_key_or_https() {
        let dir = tempfile::tempdir().unwrap();
        let err = cfg(&[("AXIS_ENV", "production")], dir.path()).unwrap_err();
        assert!(err.to_string().contains("AXIS_MASTER_KEY is required"));
        let key = MasterKey::generate().to_base64();
        let err = cfg(
            &[
                ("AXIS_ENV", "production"),
                ("AXIS_MASTER_KEY", &key),
                ("AXIS_PUBLIC_URL", "http://x.example"),
            ],
            dir.path(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("https"));
        let ok = cfg(
            &[
                ("AXIS_ENV", "production"),
                ("AXIS_MASTER_KEY", &key),
                ("AXIS_PUBLIC_URL", "https://crm.example/"),
            ],
            dir.path(),
        )
        .unwrap();
        assert!(ok.public_is_https());
        assert_eq!(ok.public_url, "https://crm.example");
        assert_eq!(ok.public_origin(), "https://crm.example");
        assert!(!dir.path().join("master.key").exists());
    }

    #[test]
    fn rejects_bad_values_with_the_variable_name() {
        let dir = tempfile::tempdir().unwrap();
        assert!(cfg(&[("AXIS_MASTER_KEY", "c2hvcnQ=")], dir.path())
            .unwrap_err()
            .to_string()
            .contains("32 bytes"));
        assert!(cfg(&[("AXIS_ENV", "staging")], dir.path())
            .unwrap_err()
            .to_string()
            .contains("AXIS_ENV"));
        assert!(cfg(&[("DATABASE_URL", "mysql://x")], dir.path())
            .unwrap_err()
            .to_string()
            .contains("DATABASE_URL"));
        assert!(cfg(&[("AXIS_PUBLIC_URL", "ftp://x")], dir.path()).is_err());
    }

    #[test]
    fn whatsapp_settings() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg(&[], dir.path()).unwrap();
        assert_eq!(c.graph_url, "https://graph.facebook.com");
        assert_eq!(c.graph_version, DEFAULT_GRAPH_VERSION);
        assert!(c.sandbox, "the sandbox is on in development");
        assert!(c.env_whatsapp.is_none());
        let key = MasterKey::generate().to_base64();
        let prod = cfg(
            &[
                ("AXIS_ENV", "production"),
                ("AXIS_MASTER_KEY", &key),
                ("AXIS_PUBLIC_URL", "https://x.example"),
            ],
            dir.path(),
        )
        .unwrap();
        assert!(!prod.sandbox, "and off in production unless asked for");
        assert!(cfg(&[("WHATSAPP_GRAPH_VERSION", "23")], dir.path())
            .unwrap_err()
            .to_string()
            .contains("v23.0"));
        assert!(cfg(&[("WHATSAPP_PHONE_NUMBER_ID", "123")], dir.path())
            .unwrap_err()
            .to_string()
            .contains("WHATSAPP_ACCESS_TOKEN"));
        assert!(cfg(&[("AXIS_SANDBOX", "maybe")], dir.path()).is_err());
        let e = cfg(
            &[
                ("WHATSAPP_PHONE_NUMBER_ID", "123"),
                ("WHATSAPP_ACCESS_TOKEN", "EAAsecret"),
                ("WHATSAPP_GRAPH_URL", "http://127.0.0.1:9/"),
            ],
            dir.path(),
        )
        .unwrap();
        assert_eq!(e.graph_url, "http://127.0.0.1:9");
        let w = e.env_whatsapp.unwrap();
        assert!(!format!("{w:?}").contains("EAAsecret"));
        let prev = MasterKey::generate().to_base64();
        let r = cfg(
            &[("AXIS_MASTER_KEY_PREVIOUS", &format!("{prev}, "))],
            dir.path(),
        )
        .unwrap();
        assert_eq!(r.previous_master_keys.len(), 1);
    }

    #[test]
    fn master_key_debug_hides_the_bytes() {
        assert_eq!(format!("{:?}", MasterKey([7; 32])), "MasterKey(..)");
    }
}
