-- Accounts and privacy: audit log, erasure ledger, export (src/domain/audit.c,
-- erasure.c, export.c). Statements the same in every dialect.

-- name: audit_insert
INSERT INTO audit_log (occurred_at, actor_id, action, target_type, target_id, details)
VALUES ($1, $2, $3, $4, $5, $6)

-- name: audit_by_actor
SELECT id, occurred_at, actor_id, action, target_type, target_id, details FROM audit_log
WHERE actor_id = $1 AND id > $2 ORDER BY id LIMIT $3

-- name: erasure_insert
INSERT INTO erasures (user_id, tombstone_id, status, step, requested_at)
VALUES ($1, $2, 'pending', 0, $3)

-- name: erasure_by_user
SELECT id, user_id, tombstone_id, status, step, email FROM erasures WHERE user_id = $1

-- name: erasure_by_id
SELECT id, user_id, tombstone_id, status, step, email FROM erasures WHERE id = $1

-- name: erasure_set_email
UPDATE erasures SET email = $2 WHERE id = $1 AND status = 'pending' AND email IS NULL

-- name: erasure_finish
UPDATE erasures SET status = 'done', user_id = NULL, email = NULL, step = $2, completed_at = $3
WHERE id = $1 AND status = 'pending'

-- name: erasure_upcoming_events
SELECT count(*) AS n FROM events
WHERE organizer_id = $1 AND status IN ('draft', 'published') AND end_date > $2

-- name: erasure_registrations
UPDATE event_registrations
SET user_id = $2, dietary_requirements = NULL, special_needs = NULL, guardian_consent = NULL,
    updated_at = $3
WHERE user_id = $1

-- name: erasure_payments
UPDATE payments SET user_id = $2, updated_at = $3 WHERE user_id = $1

-- name: erasure_events
UPDATE events SET organizer_id = $2, updated_at = $3 WHERE organizer_id = $1

-- name: erasure_venues
UPDATE venues SET created_by = $2, updated_at = $3 WHERE created_by = $1

-- name: erasure_audit_actor
UPDATE audit_log SET actor_id = $2 WHERE actor_id = $1

-- name: erasure_audit_target
UPDATE audit_log SET target_id = $2 WHERE target_id = $1 AND target_type = 'user'

-- name: erasure_outbox
DELETE FROM outbox WHERE lower(recipient) = lower(CAST($1 AS TEXT))

-- name: reset_request_done
DELETE FROM reset_requests WHERE id = $1

-- name: reset_requests_expire
-- Requests made before $1 (a code made now would outlive its use): gone,
-- sent or not.
DELETE FROM reset_requests WHERE requested_at < $1

-- name: erasure_reset_requests
DELETE FROM reset_requests WHERE email = lower(CAST($1 AS TEXT))

-- name: erasure_payment_refunds
UPDATE payment_refunds SET created_by = $2 WHERE created_by = $1

-- name: erasure_idempotency_keys
DELETE FROM idempotency_keys WHERE user_id = $1

-- name: erasure_organized_events
SELECT id FROM events WHERE organizer_id = $1

-- name: erasure_registered_events
SELECT DISTINCT event_id FROM event_registrations WHERE user_id = $1 OR user_id = $2

-- name: audit_latest
-- The newest entry of action $2 about target $1 (an intent's decision,
-- src/domain/users.c).
SELECT details FROM audit_log WHERE target_id = $1 AND action = $2 ORDER BY id DESC LIMIT 1
