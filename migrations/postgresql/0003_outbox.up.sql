-- The durable outbox of notifications (include/risinggen/outbox.h). A row is
-- written in the transaction of the change that causes it and delivered by
-- the sweep thread: pending → sent, or failed after too many attempts.
CREATE TABLE outbox (
  id BIGSERIAL PRIMARY KEY,
  channel VARCHAR(16) NOT NULL,
  recipient VARCHAR(320) NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  dedupe_key VARCHAR(255) UNIQUE,
  status VARCHAR(16) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL,
  last_error TEXT,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
  sent_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
