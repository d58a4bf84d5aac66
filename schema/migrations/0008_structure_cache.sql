-- The cached ENVELOPE and BODYSTRUCTURE strings were computed by a parser that kept address
-- comments inside the mailbox and host and dropped `user@host (Name)` display names (issue 11).
-- Forget them: the next FETCH computes them again from the message files.
UPDATE messages SET envelope = NULL, bodystructure = NULL;
