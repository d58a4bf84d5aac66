//! Resolving secret references: environment variables and files. `validate` only checks that
//! references are well formed; `validate --check-secrets` and `serve` resolve them.

use std::fmt;

use super::diag::{Code, Diagnostics};
use super::model::{Config, SecretRef};

/// A resolved secret. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(v) => write!(f, "env={v}"),
            SecretRef::File(p) => write!(f, "file={}", p.display()),
            SecretRef::EnvPrefix(p) => write!(f, "env-prefix={p}"),
        }
    }
}

fn env(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(v),
        Ok(_) => Err(format!("environment variable {name} is empty")),
        Err(std::env::VarError::NotPresent) => Err(format!("environment variable {name} is not set")),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("environment variable {name} is not UTF-8")),
    }
}

/// Resolves a reference. For `EnvPrefix` the value is `ACCESS_KEY_ID` and `SECRET_ACCESS_KEY`
/// joined by a newline.
pub fn resolve(r: &SecretRef) -> Result<Secret, String> {
    match r {
        SecretRef::Env(name) => env(name).map(Secret),
        SecretRef::File(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let value = text
                .strip_suffix('\n')
                .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
            if value.is_empty() {
                return Err(format!("{} is empty", path.display()));
            }
            Ok(Secret(value.to_owned()))
        }
        SecretRef::EnvPrefix(prefix) => {
            let id = env(&format!("{prefix}ACCESS_KEY_ID"))?;
            let key = env(&format!("{prefix}SECRET_ACCESS_KEY"))?;
            Ok(Secret(format!("{id}\n{key}")))
        }
    }
}

/// Resolves every reference in the config; each failure becomes a `secret_unavailable` error.
pub fn check_all(config: &Config, diags: &mut Diagnostics) {
    for r in config.secret_refs() {
        if let Err(msg) = resolve(&r.value) {
            diags
                .error(Code::SecretUnavailable, r.span, format!("secret {}: {msg}", r.value))
                .label("cannot be resolved")
                .help("set the variable or create the file before starting yubin (validate without --check-secrets skips this)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let s = Secret("hunter2".into());
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
    }

    #[test]
    fn file_secrets_lose_one_trailing_newline() {
        let dir = std::env::temp_dir().join(format!("yubin-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s");
        std::fs::write(&p, "pw\r\n").unwrap();
        assert_eq!(resolve(&SecretRef::File(p.clone())).unwrap().expose(), "pw");
        std::fs::write(&p, "\n").unwrap();
        assert!(resolve(&SecretRef::File(p.clone())).is_err());
        assert!(resolve(&SecretRef::File(dir.join("missing"))).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
