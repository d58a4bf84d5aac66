-- The IMAP/POP3 index over the Maildirs: one row per folder with its UIDVALIDITY, UIDNEXT and
-- HIGHESTMODSEQ, one row per message with its UID, flags and MODSEQ, and cached ENVELOPE and
-- BODYSTRUCTURE strings. The Maildir files stay the source of the message bytes; flags are
-- mirrored into the file names (":2,FRS") so other Maildir tools see them.
CREATE TABLE folders (
    id            INTEGER PRIMARY KEY,
    account       TEXT NOT NULL,          -- mailbox address (login)
    name          TEXT NOT NULL,          -- IMAP name, UTF-8, "." as hierarchy separator
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER NOT NULL,
    highestmodseq INTEGER NOT NULL,
    subscribed    INTEGER NOT NULL DEFAULT 1,
    special_use   TEXT,                   -- \Sent, \Drafts, \Trash, \Junk, \Archive
    UNIQUE (account, name)
);

CREATE TABLE messages (
    folder_id     INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    uid           INTEGER NOT NULL,
    file          TEXT NOT NULL,          -- Maildir base name, without ":2,..."
    size          INTEGER NOT NULL,
    internaldate  INTEGER NOT NULL,       -- unix seconds
    flags         TEXT NOT NULL,          -- space separated: \Seen \Answered ... keywords
    modseq        INTEGER NOT NULL,
    envelope      TEXT,                   -- cached IMAP ENVELOPE
    bodystructure TEXT,                   -- cached IMAP BODYSTRUCTURE
    PRIMARY KEY (folder_id, uid)
);

CREATE INDEX messages_file ON messages (folder_id, file);
