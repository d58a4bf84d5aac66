-- The user directory, synced from the plan at every start. Rows of users that were removed
-- from the configuration are kept with removed = 1: their Maildirs stay on disk.
CREATE TABLE users (
    address       TEXT PRIMARY KEY NOT NULL,
    domain        TEXT NOT NULL,
    local_part    TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    quota_bytes   INTEGER,
    disabled      INTEGER NOT NULL DEFAULT 0,
    maildir       TEXT NOT NULL,
    removed       INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX users_domain ON users (domain);
