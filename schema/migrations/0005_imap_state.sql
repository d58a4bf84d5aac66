-- IMAP state beyond flags and UIDs.
-- \Recent (RFC 3501 §2.3.2, for IMAP4rev1 clients): the highest UID a session has already
-- been told is recent. Messages above it are recent for the next session that selects the
-- folder read-write. Existing folders start with nothing recent.
ALTER TABLE folders ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
UPDATE folders SET recent_uid = uidnext - 1;

-- Subscriptions are names, not folders (RFC 9051 §6.3.7, RFC 5258 §3.1): a subscription
-- outlives DELETE (LIST shows it \NonExistent) and may name a folder that does not exist yet.
CREATE TABLE subscriptions (
    account TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (account, name)
);
INSERT INTO subscriptions (account, name) SELECT account, name FROM folders WHERE subscribed = 1;
