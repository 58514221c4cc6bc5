-- Accounts and privacy on PostgreSQL.

-- name: audit_list
SELECT id, occurred_at, actor_id, action, target_type, target_id, details FROM audit_log
WHERE ($1::text IS NULL OR action = $1::text) AND ($2::text IS NULL OR actor_id = $2::text)
  AND ($3::timestamptz IS NULL OR occurred_at >= $3::timestamptz)
  AND ($4::timestamptz IS NULL OR occurred_at <= $4::timestamptz) AND id < $5
ORDER BY id DESC LIMIT $6

-- name: export_payments
SELECT id, user_id, event_id, (amount * 100)::bigint AS amount_minor, currency, payment_method,
       status, provider, provider_transaction_id, payment_date, refund_status,
       (refund_amount * 100)::bigint AS refund_amount_minor, refund_date, created_at
FROM payments WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3

-- name: reset_request_insert
INSERT INTO reset_requests (email, requested_at) VALUES ($1, $2)

-- name: reset_requests_take
-- Up to $1 requests, oldest first, unclaimed or whose claim ran out before
-- $3, claimed until $2 away from any other instance's job.
UPDATE reset_requests SET claimed_until = $2
WHERE id IN (SELECT id FROM reset_requests
             WHERE claimed_until IS NULL OR claimed_until < $3::timestamptz
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, email
