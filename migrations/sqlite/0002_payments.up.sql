-- Payments for registrations: the registration a payment is for, refunds,
-- idempotency keys (request hash and the stored answer) and the provider
-- webhook events already handled. Money is integer minor units; times are
-- RFC 3339 UTC text. The refunded total lives in payments.refund_amount_minor.
ALTER TABLE payments ADD COLUMN registration_id INTEGER;
CREATE INDEX idx_payments_registration ON payments (registration_id);
-- One open (pending or succeeded) payment per registration.
CREATE UNIQUE INDEX uq_payments_registration_open ON payments (registration_id)
  WHERE status IN ('pending', 'succeeded');
CREATE UNIQUE INDEX uq_payments_provider_tx ON payments (provider, provider_transaction_id);
CREATE INDEX idx_payments_user_newest ON payments (user_id, id);
CREATE INDEX idx_payments_event_status ON payments (event_id, status);
-- Never more refunded than paid, whatever the code does.
CREATE TRIGGER trg_payments_refund_bounds BEFORE UPDATE OF refund_amount_minor ON payments
WHEN NEW.refund_amount_minor IS NOT NULL
  AND (NEW.refund_amount_minor < 0 OR NEW.refund_amount_minor > NEW.amount_minor)
BEGIN
  SELECT RAISE(ABORT, 'refund_amount_minor out of bounds');
END;

CREATE TABLE payment_refunds (
  id INTEGER PRIMARY KEY,
  payment_id INTEGER NOT NULL REFERENCES payments(id),
  amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
  currency TEXT NOT NULL,
  reason TEXT,
  provider_refund_id TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_payment_refunds_payment ON payment_refunds (payment_id, id);

-- Idempotency-Key: claimed first (insert), answered in the same transaction.
CREATE TABLE idempotency_keys (
  user_id TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  response_status INTEGER,
  response_body TEXT,
  resource_id INTEGER,
  created_at TEXT NOT NULL,
  PRIMARY KEY (user_id, idem_key)
) WITHOUT ROWID;
CREATE INDEX idx_idempotency_keys_age ON idempotency_keys (user_id, created_at);

CREATE TABLE webhook_events (
  provider TEXT NOT NULL,
  event_id TEXT NOT NULL,
  event_type TEXT NOT NULL,
  payment_id INTEGER,
  received_at TEXT NOT NULL,
  PRIMARY KEY (provider, event_id)
) WITHOUT ROWID;
