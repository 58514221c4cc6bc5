-- Password-reset requests (src/domain/password_reset.c): every request, for
-- an e-mail with an account or without, is one row written the same way, and
-- the password-reset job looks the e-mail up and sends the code, so that
-- neither the answer nor its timing tells whether an account exists. A row
-- lives for about a second. Times are RFC 3339 UTC text.
CREATE TABLE reset_requests (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL,
  requested_at TEXT NOT NULL
);

-- The e-mail of a person being erased, kept on the erasure's row until it is
-- done, so that the last sweep (after the profile is gone) still finds the
-- mail queued to them (docs/design/erasure.md).
ALTER TABLE erasures ADD COLUMN email TEXT;
