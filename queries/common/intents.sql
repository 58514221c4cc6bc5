-- name: intent_open
-- $4: the step done when the row commits (one whose writes share its
-- transaction), else 0.
INSERT INTO intents (kind, subject, step, created_at, updated_at) VALUES ($1, $2, $4, $3, $3)
RETURNING id

-- name: intent_step
UPDATE intents SET step = $2, updated_at = $3 WHERE id = $1 AND step < $2

-- name: intent_close
DELETE FROM intents WHERE id = $1

-- name: intents_stalled
-- Intents of kind $1 last advanced at or before $2, after id $3: those a
-- crash, an outage or a failed step left behind.
SELECT id, kind, subject, step FROM intents WHERE kind = $1 AND updated_at <= $2 AND id > $3
ORDER BY id LIMIT 100

-- name: intent_abandon
-- An intent given up before its decision (step $2): gone only if still
-- undecided, so that a decision recorded first wins.
DELETE FROM intents WHERE id = $1 AND step < $2

-- name: intent_get
SELECT id, kind, subject, step FROM intents WHERE id = $1

-- name: intent_by_subject
SELECT id, kind, subject, step FROM intents WHERE kind = $1 AND subject = $2 ORDER BY id LIMIT 1

-- name: intents_all
-- Every intent, oldest first (tests and operators).
SELECT id, kind, subject, step, updated_at FROM intents ORDER BY id LIMIT 1000
