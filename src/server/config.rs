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

        let trust_proxy = matches!(
            var("AXIS_TRUST_PROXY").as_deref(),
            Some("1" | "true" | "yes")
        );
        Ok(Config {
            env,
            data_dir,
            database_url,
            master_key,
            public_url,
            trust_proxy,
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
    fn master_key_debug_hides_the_bytes() {
        assert_eq!(format!("{:?}", MasterKey([7; 32])), "MasterKey(..)");
    }
}
