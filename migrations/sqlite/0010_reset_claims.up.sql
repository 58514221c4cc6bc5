-- A password-reset request is claimed by the job that takes it, until
-- claimed_until, and deleted once its e-mail is queued (or it is 30
-- minutes old, as old as a code lives). A job that dies or fails midway
-- leaves the row; another pass takes it again when the claim runs out,
-- so that no request is lost (src/domain/password_reset.c).
ALTER TABLE reset_requests ADD COLUMN claimed_until TEXT;
