-- Erasure becomes an operation of the coordinator (src/domain/erasure.c,
-- docs/design/consistency.md): kind 'user.erase', its subject the id of its
-- row in erasures, its progress the intent's step. The ledger keeps what
-- outlives the operation (the tombstone, done or not). Erasures still
-- pending get their intent here, at the step their row reached.
INSERT INTO intents (kind, subject, step, created_at, updated_at)
SELECT 'user.erase', CAST(id AS TEXT), step, requested_at, requested_at
FROM erasures WHERE status = 'pending';
