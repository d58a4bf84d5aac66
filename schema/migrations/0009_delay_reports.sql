-- RFC 3461 NOTIFY=DELAY: a recipient's sender hears once that delivery is late.
ALTER TABLE queue_recipients ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0;
