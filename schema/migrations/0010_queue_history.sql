-- What happened to queued mail, kept for `limits { queue-history }` (7 days by default) after
-- the message left the queue: one row per delivery attempt and report, and a summary of each
-- finished message (its bytes are gone).
CREATE TABLE queue_history (
    message_id  TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    address     TEXT NOT NULL,
    at          INTEGER NOT NULL,       -- unix seconds
    event       TEXT NOT NULL,          -- delivered, deferred, failed, delay-report
    detail      TEXT NOT NULL,          -- the reply or the local reason
    remote      TEXT                    -- the server that answered
);
CREATE INDEX queue_history_message ON queue_history (message_id, at);
CREATE INDEX queue_history_at ON queue_history (at);

CREATE TABLE queue_done (
    id          TEXT PRIMARY KEY NOT NULL,
    sender      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    created     INTEGER NOT NULL,
    finished    INTEGER NOT NULL
);
CREATE INDEX queue_done_finished ON queue_done (finished);
