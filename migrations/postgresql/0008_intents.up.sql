-- Intents of the operations that write more than one store
-- (src/domain/intents.c, docs/design/consistency.md): a row is written before
-- the operation's first write (or in the same transaction as its first
-- relational write), its step advanced as each store is written, and the row
-- deleted when the operation is done. A row left by a crash or an outage is
-- driven to the operation's end by the intent-resume job.
CREATE TABLE intents (
  id BIGSERIAL PRIMARY KEY,
  kind VARCHAR(32) NOT NULL,
  subject VARCHAR(64) NOT NULL,
  step INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL,
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX idx_intents_updated ON intents (updated_at, id);
