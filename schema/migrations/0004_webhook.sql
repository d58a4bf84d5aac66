-- Inbound webhook requests already taken, by their Idempotency-Key: a retried request (the edge
-- router timed out waiting for our answer) gets the first answer again instead of a second copy.
-- Rows older than a week are pruned.
CREATE TABLE webhook_requests (
    key       TEXT PRIMARY KEY NOT NULL,
    response  TEXT NOT NULL,            -- the JSON answered the first time
    created   INTEGER NOT NULL          -- unix seconds
);
CREATE INDEX webhook_requests_created ON webhook_requests (created);
