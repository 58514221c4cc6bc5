-- Venues, events, registrations and payments: the seed's relational schema in
-- SQLite. Times are RFC 3339 UTC text ('2026-06-01T12:00:00Z'), which sorts
-- as time; money is integer minor units; booleans are 0/1.
CREATE TABLE venues (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  street TEXT,
  city TEXT NOT NULL,
  country TEXT NOT NULL,
  postal_code TEXT,
  lat REAL,
  lng REAL,
  capacity INTEGER,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX idx_venues_city ON venues (city COLLATE NOCASE, id);
CREATE INDEX idx_venues_geo ON venues (lat, lng);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  description TEXT,
  start_date TEXT NOT NULL,
  end_date TEXT NOT NULL,
  registration_deadline TEXT,
  venue_id INTEGER REFERENCES venues(id),
  organizer_id TEXT NOT NULL,
  max_participants INTEGER CHECK (max_participants IS NULL OR max_participants >= 0),
  taken INTEGER NOT NULL DEFAULT 0 CHECK (taken >= 0),
  status TEXT NOT NULL DEFAULT 'draft',
  type TEXT NOT NULL,
  is_featured INTEGER NOT NULL DEFAULT 0,
  is_public INTEGER NOT NULL DEFAULT 1,
  cost_amount_minor INTEGER,
  cost_currency TEXT,
  waitlist_enabled INTEGER NOT NULL DEFAULT 0,
  min_age INTEGER,
  guardian_consent_under INTEGER,
  hold_minutes INTEGER NOT NULL DEFAULT 30,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  CHECK (max_participants IS NULL OR taken <= max_participants)
);
CREATE INDEX idx_events_dates ON events (start_date, end_date);
CREATE INDEX idx_events_status ON events (status);
CREATE INDEX idx_events_discovery ON events (status, is_public, start_date, id);
CREATE INDEX idx_events_organizer ON events (organizer_id);
CREATE INDEX idx_events_venue ON events (venue_id);

CREATE TABLE payments (
  id INTEGER PRIMARY KEY,
  user_id TEXT NOT NULL,
  event_id INTEGER REFERENCES events(id),
  amount_minor INTEGER NOT NULL,
  currency TEXT NOT NULL,
  payment_method TEXT NOT NULL,
  status TEXT NOT NULL,
  provider_transaction_id TEXT,
  provider TEXT NOT NULL,
  payment_date TEXT,
  refund_status TEXT,
  refund_amount_minor INTEGER,
  refund_date TEXT,
  metadata TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX idx_payments_user ON payments (user_id);
CREATE INDEX idx_payments_event ON payments (event_id);
CREATE INDEX idx_payments_status ON payments (status);

CREATE TABLE event_registrations (
  id INTEGER PRIMARY KEY,
  event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  registration_date TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'confirmed', 'waitlisted', 'cancelled')),
  payment_status TEXT NOT NULL DEFAULT 'unpaid',
  payment_id INTEGER REFERENCES payments(id),
  dietary_requirements TEXT,
  special_needs TEXT,
  checked_in INTEGER NOT NULL DEFAULT 0,
  checked_in_at TEXT,
  cancelled_at TEXT,
  cancellation_reason TEXT,
  hold_expires_at TEXT,
  guardian_consent TEXT,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX idx_registrations_event ON event_registrations (event_id);
CREATE INDEX idx_registrations_user ON event_registrations (user_id);
CREATE INDEX idx_registrations_status ON event_registrations (status);
CREATE UNIQUE INDEX uq_registrations_active ON event_registrations (event_id, user_id)
  WHERE status <> 'cancelled';
CREATE INDEX idx_registrations_queue ON event_registrations (event_id, status, id);
CREATE INDEX idx_registrations_holds ON event_registrations (hold_expires_at)
  WHERE status = 'pending' AND hold_expires_at IS NOT NULL;
