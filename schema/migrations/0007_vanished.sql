-- QRESYNC (RFC 7162 §3.2.5, §3.2.6): the UIDs expunged from a folder and the MODSEQ of their
-- removal, so a client that comes back with an old MODSEQ learns which of its messages are
-- gone (VANISHED (EARLIER)). Old rows are pruned; below `vanished_floor` the server no longer
-- knows exactly and reports every missing UID.
CREATE TABLE expunged (
    folder_id INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    uid       INTEGER NOT NULL,
    modseq    INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (folder_id, modseq);
ALTER TABLE folders ADD COLUMN vanished_floor INTEGER NOT NULL DEFAULT 0;
