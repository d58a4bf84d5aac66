-- The outbound queue: one row per message (its bytes are in <data>/queue/msg/<id>) and one
-- per recipient with its delivery state. A message row goes away when no recipient is pending.
CREATE TABLE queue_messages (
    id          TEXT PRIMARY KEY NOT NULL,
    sender      TEXT NOT NULL,          -- '' for bounces
    size        INTEGER NOT NULL,
    created     INTEGER NOT NULL,       -- unix seconds
    envid       TEXT,                   -- RFC 3461 ENVID
    ret         TEXT                    -- RFC 3461 RET: FULL or HDRS
);

CREATE TABLE queue_recipients (
    message_id   TEXT NOT NULL REFERENCES queue_messages (id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL,
    address      TEXT NOT NULL,
    domain       TEXT NOT NULL,
    orcpt        TEXT,
    notify       TEXT,
    status       TEXT NOT NULL,         -- pending, delivered, failed
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,      -- unix seconds
    last_error   TEXT,
    PRIMARY KEY (message_id, idx)
);

CREATE INDEX queue_due ON queue_recipients (status, next_attempt);
