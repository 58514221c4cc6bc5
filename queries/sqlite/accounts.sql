-- Accounts and privacy on SQLite (times are RFC 3339 text, money minor units).

-- name: audit_list
SELECT id, occurred_at, actor_id, action, target_type, target_id, details FROM audit_log
WHERE ($1 IS NULL OR action = $1) AND ($2 IS NULL OR actor_id = $2)
  AND ($3 IS NULL OR occurred_at >= $3) AND ($4 IS NULL OR occurred_at <= $4) AND id < $5
ORDER BY id DESC LIMIT $6

-- name: export_payments
SELECT id, user_id, event_id, amount_minor, currency, payment_method, status, provider,
       provider_transaction_id, payment_date, refund_status, refund_amount_minor, refund_date,
       created_at
FROM payments WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3

-- name: reset_request_insert
INSERT INTO reset_requests (email, requested_at) VALUES ($1, $2)

-- name: reset_requests_take
-- Up to $1 requests, oldest first, unclaimed or whose claim ran out before
-- $3, claimed until $2 (in a write transaction).
UPDATE reset_requests SET claimed_until = $2
WHERE id IN (SELECT id FROM reset_requests WHERE claimed_until IS NULL OR claimed_until < $3
             ORDER BY id LIMIT $1)
RETURNING id, email
