//! Subscriptions: names an account has subscribed to (RFC 9051 §6.3.7). They are names, not
//! folders: a subscription outlives DELETE (LIST shows it `\NonExistent`, RFC 5258 §3.1) and
//! may name a folder that does not exist yet; RENAME carries the subscriptions of the renamed
//! folders along, as Dovecot does.

use sqlx::Row;

use super::index::{Index, IndexError, check_name};

impl Index {
    /// The account's subscribed names, sorted.
    pub async fn subscriptions(&self, account: &str) -> Result<Vec<String>, IndexError> {
        let rows = sqlx::query("SELECT name FROM subscriptions WHERE account = ? ORDER BY name")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| r.get("name")).collect())
    }

    /// Subscribes to `name` (`on`) or unsubscribes from it. Subscribing twice, or
    /// unsubscribing from a name that is not subscribed, is not an error.
    pub async fn subscribe(&self, account: &str, name: &str, on: bool) -> Result<(), IndexError> {
        let name = check_name(name)?;
        let sql = if on {
            "INSERT OR IGNORE INTO subscriptions (account, name) VALUES (?, ?)"
        } else {
            "DELETE FROM subscriptions WHERE account = ? AND name = ?"
        };
        sqlx::query(sql)
            .bind(account)
            .bind(&name)
            .execute(&self.pool)
            .await?;
        self.emit(account, super::events::MailboxEvent::Subscribed(name, on));
        Ok(())
    }

    /// Moves the subscriptions of `from` and of the folders under it to `to` (RENAME).
    pub(super) async fn rename_subscriptions(
        &self,
        account: &str,
        from: &str,
        to: &str,
    ) -> Result<(), IndexError> {
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM subscriptions WHERE account = ?")
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
        let prefix = format!("{from}.");
        for old in names.iter().filter(|n| *n == from || n.starts_with(&prefix)) {
            let new = format!("{to}{}", old.get(from.len()..).unwrap_or_default());
            sqlx::query("UPDATE OR IGNORE subscriptions SET name = ? WHERE account = ? AND name = ?")
                .bind(&new)
                .bind(account)
                .bind(old)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
