//! `yubin plan --diff OLD NEW`: what a configuration change does, in words an administrator
//! reads before deploying ("mailbox dave@example.com added", "limits.message_size_bytes:
//! 26214400 → 52428800"). Computed on the canonical JSON of both plans, so every field of the
//! plan is covered without a hand-written comparison per field.

use serde_json::Value;

use super::Plan;

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Something new at `path`.
    Added {
        /// Where.
        path: String,
        /// A short rendering of the new value.
        value: String,
    },
    /// Something gone from `path`.
    Removed {
        /// Where.
        path: String,
        /// A short rendering of the old value.
        value: String,
    },
    /// A value that changed.
    Changed {
        /// Where.
        path: String,
        /// Old value.
        old: String,
        /// New value.
        new: String,
    },
}

impl Change {
    /// Where in the plan the change is (`limits.message_size_bytes`, ...).
    pub fn path(&self) -> &str {
        match self {
            Change::Added { path, .. } | Change::Removed { path, .. } | Change::Changed { path, .. } => path,
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added { path, value } if value.is_empty() => write!(f, "+ {path}"),
            Change::Added { path, value } => write!(f, "+ {path}: {value}"),
            Change::Removed { path, value } if value.is_empty() => write!(f, "- {path}"),
            Change::Removed { path, value } => write!(f, "- {path}: {value}"),
            Change::Changed { path, old, new } => write!(f, "~ {path}: {old} → {new}"),
        }
    }
}

/// Sections whose entries are named things: shown as "mailbox alice@example.com".
const NAMED: &[(&str, &str)] = &[
    ("listeners", "listener"),
    ("domains", "domain"),
    ("mailboxes", "mailbox"),
    ("routes", "route"),
    ("dkim", "dkim signer"),
];

/// Fields whose values are not shown (verifiers and noise), only that they changed.
const HIDDEN: &[&str] = &["password_hash"];

fn short(v: &Value) -> String {
    match v {
        Value::Object(_) => String::new(),
        other => other.to_string(),
    }
}

fn render(v: &Value, key: &str) -> String {
    if HIDDEN.contains(&key) {
        return "(hidden)".to_owned();
    }
    match v {
        Value::Object(map) if map.len() <= 4 && map.values().all(|x| !x.is_object() && !x.is_array()) => {
            serde_json::to_string(v).unwrap_or_default()
        }
        Value::Object(_) => String::new(),
        other => short(other),
    }
}

fn join(path: &[String]) -> String {
    if let Some((first, rest)) = path.split_first()
        && let Some((_, label)) = NAMED.iter().find(|(s, _)| s == first)
        && let Some((name, tail)) = rest.split_first()
    {
        let mut out = format!("{label} {name}");
        if !tail.is_empty() {
            out.push_str(": ");
            out.push_str(&tail.join("."));
        }
        return out;
    }
    path.join(".")
}

fn walk(path: &mut Vec<String>, old: &Value, new: &Value, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let key = path.last().cloned().unwrap_or_default();
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                path.push(k.clone());
                match b.get(k) {
                    Some(vb) => walk(path, va, vb, out),
                    None if !va.is_null() => out.push(Change::Removed {
                        path: join(path),
                        value: render(va, k),
                    }),
                    None => {}
                }
                path.pop();
            }
            for (k, vb) in b {
                if !a.contains_key(k) && !vb.is_null() {
                    path.push(k.clone());
                    out.push(Change::Added {
                        path: join(path),
                        value: render(vb, k),
                    });
                    path.pop();
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.iter().chain(b).all(|v| !v.is_object() && !v.is_array()) => {
            let before = out.len();
            for v in a.iter().filter(|v| !b.contains(v)) {
                out.push(Change::Removed {
                    path: join(path),
                    value: short(v),
                });
            }
            for v in b.iter().filter(|v| !a.contains(v)) {
                out.push(Change::Added {
                    path: join(path),
                    value: short(v),
                });
            }
            if out.len() == before && a != b {
                out.push(Change::Changed {
                    path: join(path),
                    old: old.to_string(),
                    new: new.to_string(),
                });
            }
        }
        (Value::Null, v) => out.push(Change::Added {
            path: join(path),
            value: render(v, &key),
        }),
        (v, Value::Null) => out.push(Change::Removed {
            path: join(path),
            value: render(v, &key),
        }),
        (a, b) if a != b => {
            if HIDDEN.contains(&key.as_str()) {
                out.push(Change::Changed {
                    path: join(path),
                    old: "(hidden)".into(),
                    new: "(new value)".into(),
                });
            } else if a.is_object() || b.is_object() || a.is_array() || b.is_array() {
                out.push(Change::Changed {
                    path: join(path),
                    old: serde_json::to_string(a).unwrap_or_default(),
                    new: serde_json::to_string(b).unwrap_or_default(),
                });
            } else {
                out.push(Change::Changed {
                    path: join(path),
                    old: a.to_string(),
                    new: b.to_string(),
                });
            }
        }
        _ => {}
    }
}

/// Every difference between two plans, in a stable order.
pub fn diff(old: &Plan, new: &Plan) -> Vec<Change> {
    let a = serde_json::to_value(old).unwrap_or(Value::Null);
    let b = serde_json::to_value(new).unwrap_or(Value::Null);
    let mut out = Vec::new();
    walk(&mut Vec::new(), &a, &b, &mut out);
    out
}
