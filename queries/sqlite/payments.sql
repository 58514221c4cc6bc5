-- Payments on SQLite: money in integer minor units. Writers are serialised
-- by BEGIN IMMEDIATE, so the *_lock statements are plain reads.

-- name: payment_registration_lock
SELECT r.id, r.event_id, r.user_id, r.status, r.payment_status, r.hold_expires_at,
       e.organizer_id AS event_organizer_id, e.cost_amount_minor AS event_cost_minor,
       e.cost_currency AS event_cost_currency, e.status AS event_status
FROM event_registrations r JOIN events e ON e.id = r.event_id
WHERE r.id = $1

-- name: payment_insert
INSERT INTO payments (user_id, event_id, registration_id, amount_minor, currency, payment_method,
                      status, provider_transaction_id, provider, payment_date, refund_status,
                      metadata, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'none', $11, $12, $12)
RETURNING id

-- name: payment_get
SELECT p.id, p.user_id, p.event_id, p.registration_id, p.amount_minor, p.currency,
       p.payment_method, p.status, p.provider, p.provider_transaction_id, p.payment_date,
       p.refund_status, COALESCE(p.refund_amount_minor, 0) AS refunded_minor, p.refund_date,
       p.created_at, p.updated_at, e.organizer_id AS event_organizer_id
FROM payments p JOIN events e ON e.id = p.event_id
WHERE p.id = $1

-- name: payment_lock
SELECT p.id, p.user_id, p.event_id, p.registration_id, p.amount_minor, p.currency,
       p.payment_method, p.status, p.provider, p.provider_transaction_id,
       COALESCE(p.refund_amount_minor, 0) AS refunded_minor
FROM payments p WHERE p.id = $1

-- name: payment_lock_by_provider_tx
SELECT p.id, p.event_id, p.registration_id, p.status
FROM payments p WHERE p.provider = $1 AND p.provider_transaction_id = $2

-- name: payment_set_status
-- pending → succeeded or failed, once; paymentDate when it succeeds.
UPDATE payments
SET status = $2, payment_date = CASE WHEN $2 = 'succeeded' THEN $3 ELSE payment_date END,
    updated_at = $3
WHERE id = $1 AND status = 'pending'

-- name: payment_refund_apply
-- Decides and records in one statement: never more refunded than paid.
UPDATE payments
SET refund_amount_minor = COALESCE(refund_amount_minor, 0) + $2,
    refund_status = CASE WHEN COALESCE(refund_amount_minor, 0) + $2 = amount_minor
                         THEN 'full' ELSE 'partial' END,
    refund_date = $3, updated_at = $3
WHERE id = $1 AND status = 'succeeded' AND $2 > 0
  AND COALESCE(refund_amount_minor, 0) + $2 <= amount_minor
RETURNING refund_amount_minor AS refunded_minor, refund_status

-- name: payment_refund_insert
INSERT INTO payment_refunds (payment_id, amount_minor, currency, reason, provider_refund_id,
                             created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING id

-- name: payments_by_user
SELECT p.id, p.user_id, p.event_id, p.registration_id, p.amount_minor, p.currency,
       p.payment_method, p.status, p.provider, p.provider_transaction_id, p.payment_date,
       p.refund_status, COALESCE(p.refund_amount_minor, 0) AS refunded_minor, p.refund_date,
       p.created_at, p.updated_at
FROM payments p
WHERE p.user_id = $1 AND p.id < $2
ORDER BY p.id DESC LIMIT $3

-- name: event_finance_totals
SELECT currency,
       SUM(CASE WHEN status = 'succeeded' THEN amount_minor ELSE 0 END) AS gross_minor,
       SUM(CASE WHEN status = 'succeeded' THEN COALESCE(refund_amount_minor, 0) ELSE 0 END)
         AS refunded_minor
FROM payments WHERE event_id = $1
GROUP BY currency ORDER BY currency

-- name: event_finance_counts
SELECT status, payment_method, refund_status, COUNT(*) AS n
FROM payments WHERE event_id = $1
GROUP BY status, payment_method, refund_status
