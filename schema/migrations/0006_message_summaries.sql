-- SORT and THREAD (RFC 5256, RFC 5957): what they need from a message's header (sent date,
-- first From/To/Cc mailbox and display name, base subject, Message-ID, References), computed
-- once when a SORT or THREAD first needs the message and kept here, so that sorting or
-- threading a large folder reads no message file again. JSON with a format version
-- (src/mailbox/summary.rs); NULL until computed.
ALTER TABLE messages ADD COLUMN summary TEXT;
