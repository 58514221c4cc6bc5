-- name: outbox_insert
-- A second row with the same dedupe_key is silently not written.
INSERT INTO outbox (channel, recipient, subject, body, dedupe_key, status, attempts,
                    next_attempt_at, created_at)
VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)
ON CONFLICT (dedupe_key) DO NOTHING

-- name: outbox_due
-- Whether anything is due: a read, so that an idle pass takes no write lock.
SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 LIMIT 1

-- name: outbox_claim
-- Runs in a write transaction (BEGIN IMMEDIATE): takes up to $3 due rows and
-- leases them until $2, so that no other pass sends them meanwhile.
UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $2
WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
             ORDER BY next_attempt_at, id LIMIT $3)
RETURNING id, channel, recipient, subject, body, dedupe_key, attempts

-- name: outbox_mark_sent
UPDATE outbox SET status = 'sent', sent_at = $2, last_error = NULL
WHERE id = $1 AND status = 'pending'

-- name: outbox_reschedule
-- After a failed attempt: due again at $2, or failed for good when the
-- row has had $4 attempts.
UPDATE outbox SET next_attempt_at = $2, last_error = $3,
  status = CASE WHEN attempts >= $4 THEN 'failed' ELSE 'pending' END
WHERE id = $1 AND status = 'pending'

-- name: outbox_get
SELECT id, channel, recipient, subject, body, dedupe_key, status, attempts, next_attempt_at,
       last_error, created_at, sent_at
FROM outbox WHERE id = $1

-- name: outbox_find
-- Rows by dedupe key, or every row when $1 is NULL (tests, operations).
SELECT id, channel, recipient, subject, body, dedupe_key, status, attempts, next_attempt_at,
       last_error, created_at, sent_at
FROM outbox WHERE $1 IS NULL OR dedupe_key = $1 ORDER BY id

-- name: outbox_count
SELECT
  (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending,
  (SELECT count(*) FROM outbox WHERE status = 'sent') AS sent,
  (SELECT count(*) FROM outbox WHERE status = 'failed') AS failed

-- name: outbox_backlog
-- Notifications waiting to leave, and how long the oldest has waited (s).
SELECT count(*) AS pending,
       COALESCE(CAST(strftime('%s', 'now') AS INTEGER) - CAST(strftime('%s', min(created_at)) AS INTEGER), 0) AS oldest_s
FROM outbox WHERE status = 'pending'

-- name: replica_lag
-- A SQLite file has no replicas: nothing lags.
SELECT 0.0 AS lag_s
