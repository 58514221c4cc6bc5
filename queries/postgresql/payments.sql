-- Payments on PostgreSQL: amounts are DECIMAL(10,2) as in the seed and
-- cross the port as integer minor units (x * 100 and $n / 100.0, exact in
-- numeric). The *_lock statements take row locks for the transaction.

-- name: payment_registration_lock
SELECT r.id, r.event_id, r.user_id, r.status, r.payment_status, r.hold_expires_at,
       e.organizer_id AS event_organizer_id, (e.cost_amount * 100)::bigint AS event_cost_minor,
       e.cost_currency AS event_cost_currency, e.status AS event_status
FROM event_registrations r JOIN events e ON e.id = r.event_id
WHERE r.id = $1
FOR UPDATE OF r

-- name: payment_insert
INSERT INTO payments (user_id, event_id, registration_id, amount, currency, payment_method,
                      status, provider_transaction_id, provider, payment_date, refund_status,
                      metadata, created_at, updated_at)
VALUES ($1, $2, $3, $4::bigint / 100.0, $5, $6, $7, $8, $9, $10::timestamptz, 'none',
        $11::jsonb, $12::timestamptz, $12::timestamptz)
RETURNING id

-- name: payment_get
SELECT p.id, p.user_id, p.event_id, p.registration_id, (p.amount * 100)::bigint AS amount_minor,
       p.currency, p.payment_method, p.status, p.provider, p.provider_transaction_id,
       p.payment_date, p.refund_status,
       (COALESCE(p.refund_amount, 0) * 100)::bigint AS refunded_minor, p.refund_date,
       p.created_at, p.updated_at, e.organizer_id AS event_organizer_id
FROM payments p JOIN events e ON e.id = p.event_id
WHERE p.id = $1

-- name: payment_lock
SELECT p.id, p.user_id, p.event_id, p.registration_id, (p.amount * 100)::bigint AS amount_minor,
       p.currency, p.payment_method, p.status, p.provider, p.provider_transaction_id,
       (COALESCE(p.refund_amount, 0) * 100)::bigint AS refunded_minor
FROM payments p WHERE p.id = $1
FOR UPDATE

-- name: payment_lock_by_provider_tx
SELECT p.id, p.event_id, p.registration_id, p.status
FROM payments p WHERE p.provider = $1 AND p.provider_transaction_id = $2
FOR UPDATE

-- name: payment_set_status
-- pending → succeeded or failed, once; paymentDate when it succeeds.
UPDATE payments
SET status = $2::text,
    payment_date = CASE WHEN $2::text = 'succeeded' THEN $3::timestamptz ELSE payment_date END,
    updated_at = $3::timestamptz
WHERE id = $1 AND status = 'pending'

-- name: payment_refund_apply
-- Decides and records in one statement: never more refunded than paid (the
-- WHERE is checked again on the locked row under READ COMMITTED).
UPDATE payments
SET refund_amount = COALESCE(refund_amount, 0) + $2::bigint / 100.0,
    refund_status = CASE WHEN COALESCE(refund_amount, 0) + $2::bigint / 100.0 = amount
                         THEN 'full' ELSE 'partial' END,
    refund_date = $3::timestamptz, updated_at = $3::timestamptz
WHERE id = $1 AND status = 'succeeded' AND $2::bigint > 0
  AND COALESCE(refund_amount, 0) + $2::bigint / 100.0 <= amount
RETURNING (refund_amount * 100)::bigint AS refunded_minor, refund_status

-- name: payment_refund_insert
INSERT INTO payment_refunds (payment_id, amount, currency, reason, provider_refund_id,
                             created_by, created_at)
VALUES ($1, $2::bigint / 100.0, $3, $4, $5, $6, $7::timestamptz)
RETURNING id

-- name: payments_by_user
SELECT p.id, p.user_id, p.event_id, p.registration_id, (p.amount * 100)::bigint AS amount_minor,
       p.currency, p.payment_method, p.status, p.provider, p.provider_transaction_id,
       p.payment_date, p.refund_status,
       (COALESCE(p.refund_amount, 0) * 100)::bigint AS refunded_minor, p.refund_date,
       p.created_at, p.updated_at
FROM payments p
WHERE p.user_id = $1 AND p.id < $2::bigint
ORDER BY p.id DESC LIMIT $3

-- name: event_finance_totals
SELECT currency,
       (SUM(CASE WHEN status = 'succeeded' THEN amount ELSE 0 END) * 100)::bigint AS gross_minor,
       (SUM(CASE WHEN status = 'succeeded' THEN COALESCE(refund_amount, 0) ELSE 0 END) * 100)::bigint
         AS refunded_minor
FROM payments WHERE event_id = $1
GROUP BY currency ORDER BY currency

-- name: event_finance_counts
SELECT status, payment_method, refund_status, COUNT(*) AS n
FROM payments WHERE event_id = $1
GROUP BY status, payment_method, refund_status
