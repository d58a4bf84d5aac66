//! S3 (and S3-compatible) backup targets with aws-sdk-s3: each snapshot is the objects
//! `<prefix><id>/<file>`, its `manifest.json` uploaded last. With `object-lock`, every object
//! is written under Object Lock retention (COMPLIANCE or GOVERNANCE) for the configured days,
//! so neither a mistake nor an attacker holding the credentials can destroy it in that time;
//! removing an old snapshot then only hides it (a delete marker) until the retention ends.

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use tokio::io::AsyncWriteExt;

use super::{BackupError, Manifest};
use crate::config::secrets;
use crate::plan::BackupTarget;

/// The largest manifest read.
const MAX_MANIFEST: usize = 4 * 1024 * 1024;
/// Pages of `ListObjectVersions` (1,000 versions each) read to find a key's first version.
const MAX_VERSION_PAGES: usize = 100;

/// An S3 target.
#[derive(Clone)]
pub struct Bucket {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (`""` or ending in `/`).
    pub prefix: String,
    lock: Option<(ObjectLockMode, u32)>,
    client: Client,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn show(e: impl std::error::Error) -> String {
    // The SDK's Display is terse ("service error"); the source chain says what happened.
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

impl Bucket {
    /// The bucket a plan's S3 target names, with its credentials resolved: from the
    /// `credentials env-prefix=` variables, or `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`
    /// (and `AWS_SESSION_TOKEN`) when the target names none.
    pub fn from_plan(t: &BackupTarget) -> Result<Bucket, BackupError> {
        let BackupTarget::S3 {
            bucket,
            region,
            endpoint,
            prefix,
            credentials,
            object_lock_mode,
            object_lock_days,
        } = t
        else {
            return Err(BackupError::Invalid("not an S3 target".into()));
        };
        let (id, key, token) = match credentials {
            Some(r) => {
                let s = secrets::resolve(r)
                    .map_err(|e| BackupError::Invalid(format!("S3 credentials for {bucket}: {e}")))?;
                let (id, key) = s
                    .expose()
                    .split_once('\n')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| BackupError::Invalid(format!("S3 credentials for {bucket}: malformed")))?;
                (id, key, None)
            }
            None => {
                let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
                let (Some(id), Some(key)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
                    return Err(BackupError::Invalid(format!(
                        "S3 credentials for {bucket}: set `credentials env-prefix=` or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    )));
                };
                (id, key, var("AWS_SESSION_TOKEN"))
            }
        };
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.clone()))
            .credentials_provider(Credentials::new(id, key, token, None, "yubin"));
        if let Some(ep) = endpoint {
            // S3-compatible stores (MinIO, Ceph, moto) want path-style addressing.
            config = config.endpoint_url(ep).force_path_style(true);
        }
        let lock = match (object_lock_mode.as_deref(), object_lock_days) {
            (Some("governance"), Some(d)) => Some((ObjectLockMode::Governance, *d)),
            (Some(_), Some(d)) => Some((ObjectLockMode::Compliance, *d)),
            _ => None,
        };
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.clone()
        } else {
            format!("{prefix}/")
        };
        Ok(Bucket {
            bucket: bucket.clone(),
            prefix,
            lock,
            client: Client::from_conf(config.build()),
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    async fn put(&self, key: &str, body: ByteStream) -> Result<(), String> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key))
            .body(body);
        if let Some((mode, days)) = &self.lock {
            let until = crate::time::now_secs() + i64::from(*days) * 86_400;
            req = req
                .object_lock_mode(mode.clone())
                .object_lock_retain_until_date(DateTime::from_secs(until));
        }
        req.send().await.map(drop).map_err(show)
    }

    /// Uploads the staged snapshot: components first, the manifest last.
    pub async fn store(&self, manifest: &Manifest, staging: &Path) -> Result<(), String> {
        for c in manifest.components.values() {
            let body = ByteStream::from_path(staging.join(&c.file))
                .await
                .map_err(|e| format!("reading {}: {}", c.file, show(e)))?;
            self.put(&format!("{}/{}", manifest.id, c.file), body)
                .await
                .map_err(|e| format!("uploading {}: {e}", c.file))?;
        }
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| e.to_string())?;
        self.put(&format!("{}/manifest.json", manifest.id), ByteStream::from(json))
            .await
            .map_err(|e| format!("uploading the manifest: {e}"))
    }

    /// The snapshot ids under the prefix (folders holding a manifest are checked by the caller).
    pub async fn snapshots(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&self.prefix)
                .delimiter("/")
                .set_continuation_token(token)
                .send()
                .await
                .map_err(show)?;
            for p in page.common_prefixes() {
                if let Some(id) = p
                    .prefix()
                    .and_then(|k| k.strip_prefix(self.prefix.as_str()))
                    .and_then(|k| k.strip_suffix('/'))
                {
                    out.push(id.to_owned());
                }
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    /// Under Object Lock, the first version of `key`: the one yubin wrote and the lock protects.
    /// Anyone holding the credentials can put newer versions on top; reading the latest would
    /// restore theirs.
    ///
    /// S3 lists the versions of a key newest first, and that order is what decides: their
    /// `LastModified` has one-second resolution, so a version put within the same second ties
    /// with the original. Every page is read, so piling up versions cannot hide the first one.
    async fn first_version(&self, key: &str) -> Result<Option<String>, String> {
        if self.lock.is_none() {
            return Ok(None);
        }
        let mut oldest: Option<String> = None;
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        for _ in 0..MAX_VERSION_PAGES {
            let listed = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(show)?;
            let page = listed.versions().iter().map(|v| (v.key(), v.version_id()));
            if let Some(v) = oldest_listed(page, key) {
                oldest = Some(v.to_owned());
            }
            if listed.is_truncated() != Some(true) {
                return Ok(oldest.filter(|v| v != "null"));
            }
            key_marker = listed.next_key_marker().map(str::to_owned);
            version_marker = listed.next_version_id_marker().map(str::to_owned);
        }
        Err(format!("{key}: more than {MAX_VERSION_PAGES} pages of versions"))
    }

    async fn get(&self, key: &str) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, String> {
        let full = self.key(key);
        let version = self.first_version(&full).await?;
        self.client
            .get_object()
            .bucket(&self.bucket)
            .key(&full)
            .set_version_id(version)
            .send()
            .await
            .map_err(|e| format!("{key}: {}", show(e)))
    }

    /// A small object (a manifest), whole.
    pub async fn get_small(&self, key: &str) -> Result<Vec<u8>, String> {
        let obj = self.get(key).await?;
        if obj.content_length().unwrap_or(0) as usize > MAX_MANIFEST {
            return Err("object too large for a manifest".into());
        }
        let bytes = obj.body.collect().await.map_err(show)?.into_bytes();
        Ok(bytes.to_vec())
    }

    /// Downloads an object into `to`.
    pub async fn download(&self, key: &str, to: &Path) -> Result<(), String> {
        let obj = self.get(key).await?;
        let mut file = tokio::fs::File::create(to).await.map_err(|e| e.to_string())?;
        let mut reader = obj.body.into_async_read();
        tokio::io::copy(&mut reader, &mut file)
            .await
            .map_err(|e| format!("{key}: {e}"))?;
        file.flush().await.map_err(|e| e.to_string())
    }

    /// Deletes a snapshot's objects, the manifest first. Under Object Lock this leaves delete
    /// markers; the locked versions stay until their retention ends.
    pub async fn delete_snapshot(&self, id: &str) -> Result<(), String> {
        let folder = self.key(&format!("{id}/"));
        let manifest = format!("{folder}manifest.json");
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(&manifest)
            .send()
            .await
            .map_err(show)?;
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&folder)
            .send()
            .await
            .map_err(show)?;
        for o in listed.contents() {
            if let Some(k) = o.key() {
                self.client
                    .delete_object()
                    .bucket(&self.bucket)
                    .key(k)
                    .send()
                    .await
                    .map_err(show)?;
            }
        }
        Ok(())
    }
}

/// The oldest version of `key` in one page of `ListObjectVersions`, which lists each key's
/// versions newest first. An unversioned object's version is `null`.
fn oldest_listed<'a>(
    page: impl DoubleEndedIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    key: &str,
) -> Option<&'a str> {
    page.rev()
        .find(|(k, _)| *k == Some(key))
        .map(|(_, version)| version.unwrap_or("null"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_version_is_the_last_listed_whatever_the_times() {
        // Versions put within the same second share a LastModified; only the order tells.
        let page = [
            (Some("y/1/manifest.json"), Some("m2")),
            (Some("y/1/mailboxes.tar"), Some("ransom-2")),
            (Some("y/1/mailboxes.tar"), Some("ransom-1")),
            (Some("y/1/mailboxes.tar"), Some("original")),
            (Some("y/1/mailboxes.tar.old"), Some("other")),
        ];
        assert_eq!(
            oldest_listed(page.into_iter(), "y/1/mailboxes.tar"),
            Some("original")
        );
        assert_eq!(oldest_listed(page.into_iter(), "y/1/manifest.json"), Some("m2"));
        assert_eq!(oldest_listed(page.into_iter(), "y/1/config.tar"), None);
        assert_eq!(oldest_listed([(Some("k"), None)].into_iter(), "k"), Some("null"));
    }
}
