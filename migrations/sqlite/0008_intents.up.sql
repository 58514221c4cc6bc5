-- Intents of the operations that write more than one store
-- (src/domain/intents.c, docs/design/consistency.md): a row is written before
-- the operation's first write (or in the same transaction as its first
-- relational write), its step advanced as each store is written, and the row
-- deleted when the operation is done. A row left by a crash or an outage is
-- driven to the operation's end by the intent-resume job. Ids are never used
-- twice (AUTOINCREMENT), so that a late step or close of one operation never
-- lands on another's row. Times are RFC 3339 UTC text.
CREATE TABLE intents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  step INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX idx_intents_updated ON intents (updated_at, id);
