-- Idempotency keys, webhook events and the registration side of a payment:
-- statements that read the same in every dialect.

-- name: idem_claim
-- Insert-first: of concurrent requests with one key, one inserts; the others
-- wait for it (PostgreSQL) or run after it (SQLite) and find its answer.
INSERT INTO idempotency_keys (user_id, idem_key, request_hash, method, path, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (user_id, idem_key) DO NOTHING

-- name: idem_get
SELECT request_hash, method, path, response_status, response_body, resource_id
FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2

-- name: idem_store
UPDATE idempotency_keys SET response_status = $3, response_body = $4, resource_id = $5
WHERE user_id = $1 AND idem_key = $2

-- name: idem_purge_user
DELETE FROM idempotency_keys WHERE user_id = $1 AND created_at < $2

-- name: webhook_event_record
INSERT INTO webhook_events (provider, event_id, event_type, payment_id, received_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (provider, event_id) DO NOTHING

-- name: payment_open_for_registration
SELECT id, status FROM payments
WHERE registration_id = $1 AND status IN ('pending', 'succeeded')

-- name: registration_confirm_paid
-- A successful payment: pending → confirmed, paid, hold cleared.
UPDATE event_registrations
SET status = 'confirmed', payment_status = 'paid', payment_id = $2, hold_expires_at = NULL,
    updated_at = $3
WHERE id = $1 AND status IN ('pending', 'confirmed')

-- name: registration_mark_paid
-- A payment that succeeded after its registration was cancelled: recorded as
-- paid (the organizer refunds it), the status stays.
UPDATE event_registrations SET payment_status = 'paid', payment_id = $2, updated_at = $3
WHERE id = $1

-- name: registration_set_payment_status
UPDATE event_registrations SET payment_status = $2, updated_at = $3 WHERE id = $1
