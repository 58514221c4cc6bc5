-- Password-reset requests (src/domain/password_reset.c): every request, for
-- an e-mail with an account or without, is one row written the same way, and
-- the password-reset job looks the e-mail up and sends the code, so that
-- neither the answer nor its timing tells whether an account exists. A row
-- lives for about a second.
CREATE TABLE reset_requests (
  id BIGSERIAL PRIMARY KEY,
  email VARCHAR(320) NOT NULL,
  requested_at TIMESTAMP WITH TIME ZONE NOT NULL
);

-- The e-mail of a person being erased, kept on the erasure's row until it is
-- done, so that the last sweep (after the profile is gone) still finds the
-- mail queued to them (docs/design/erasure.md).
ALTER TABLE erasures ADD COLUMN email VARCHAR(320);
