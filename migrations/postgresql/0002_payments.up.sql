-- Payments for registrations: the registration a payment is for, refunds,
-- idempotency keys (request hash and the stored answer) and the provider
-- webhook events already handled. Money stays DECIMAL(10,2) as in the seed;
-- the queries convert to integer minor units. The refunded total lives in
-- payments.refund_amount.
ALTER TABLE payments ADD COLUMN registration_id INTEGER
  REFERENCES event_registrations(id) ON DELETE SET NULL;
CREATE INDEX idx_payments_registration ON payments (registration_id);
-- One open (pending or succeeded) payment per registration.
CREATE UNIQUE INDEX uq_payments_registration_open ON payments (registration_id)
  WHERE status IN ('pending', 'succeeded');
CREATE UNIQUE INDEX uq_payments_provider_tx ON payments (provider, provider_transaction_id);
CREATE INDEX idx_payments_user_newest ON payments (user_id, id);
CREATE INDEX idx_payments_event_status ON payments (event_id, status);
-- Never more refunded than paid, whatever the code does.
ALTER TABLE payments ADD CONSTRAINT ck_payments_refund_bounds
  CHECK (refund_amount IS NULL OR (refund_amount >= 0 AND refund_amount <= amount));

CREATE TABLE payment_refunds (
  id SERIAL PRIMARY KEY,
  payment_id INTEGER NOT NULL REFERENCES payments(id),
  amount DECIMAL(10,2) NOT NULL CHECK (amount > 0),
  currency VARCHAR(3) NOT NULL,
  reason TEXT,
  provider_refund_id VARCHAR(255),
  created_by VARCHAR(24) NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_payment_refunds_payment ON payment_refunds (payment_id, id);

-- Idempotency-Key: claimed first (insert), answered in the same transaction.
CREATE TABLE idempotency_keys (
  user_id VARCHAR(24) NOT NULL,
  idem_key VARCHAR(255) NOT NULL,
  request_hash CHAR(64) NOT NULL,
  method VARCHAR(10) NOT NULL,
  path VARCHAR(512) NOT NULL,
  response_status INTEGER,
  response_body TEXT,
  resource_id INTEGER,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
  PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idx_idempotency_keys_age ON idempotency_keys (user_id, created_at);

CREATE TABLE webhook_events (
  provider VARCHAR(50) NOT NULL,
  event_id VARCHAR(255) NOT NULL,
  event_type VARCHAR(100) NOT NULL,
  payment_id INTEGER,
  received_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
  PRIMARY KEY (provider, event_id)
);
