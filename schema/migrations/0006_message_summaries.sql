-- SORT and THREAD (RFC 5256, RFC 5957): what they need from a message's header (sent date,
-- first From/To/Cc mailbox and display name, base subject, Message-ID, References), computed
-- once when a SORT or THREAD first needs the message and kept here, so that sorting or
-- threading a large folder reads no message file again. A row is a page of summaries
-- computed together (JSON with a format version, see src/mailbox/summary.rs): a folder of ten
-- thousand messages loads from a few rows. Pages are rewritten without expunged messages.
CREATE TABLE message_summaries (
    id        INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    summaries TEXT NOT NULL
);

CREATE INDEX message_summaries_folder ON message_summaries (folder_id);
