-- Venues, events, registrations and payments: the seed's DDL, plus what the
-- queries need (venues, the place counter `taken`, waiting list, holds).
CREATE TABLE venues (
  id SERIAL PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  street VARCHAR(255),
  city VARCHAR(120) NOT NULL,
  country VARCHAR(120) NOT NULL,
  postal_code VARCHAR(32),
  lat DOUBLE PRECISION,
  lng DOUBLE PRECISION,
  capacity INTEGER,
  created_by VARCHAR(24) NOT NULL,
  created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_venues_city ON venues (lower(city), id);
CREATE INDEX idx_venues_geo ON venues (lat, lng);

CREATE TABLE events (
  id SERIAL PRIMARY KEY,
  title VARCHAR(255) NOT NULL,
  slug VARCHAR(255) UNIQUE NOT NULL,
  description TEXT,
  start_date TIMESTAMP WITH TIME ZONE NOT NULL,
  end_date TIMESTAMP WITH TIME ZONE NOT NULL,
  registration_deadline TIMESTAMP WITH TIME ZONE,
  venue_id INTEGER REFERENCES venues(id),
  organizer_id VARCHAR(24) NOT NULL, -- MongoDB ObjectId reference
  max_participants INTEGER CHECK (max_participants IS NULL OR max_participants >= 0),
  taken INTEGER NOT NULL DEFAULT 0 CHECK (taken >= 0),
  status VARCHAR(20) DEFAULT 'draft',
  type VARCHAR(50) NOT NULL,
  is_featured BOOLEAN DEFAULT false,
  is_public BOOLEAN DEFAULT true,
  cost_amount DECIMAL(10,2),
  cost_currency VARCHAR(3),
  waitlist_enabled BOOLEAN NOT NULL DEFAULT false,
  min_age INTEGER,
  guardian_consent_under INTEGER,
  hold_minutes INTEGER NOT NULL DEFAULT 30,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  CHECK (max_participants IS NULL OR taken <= max_participants)
);
CREATE INDEX idx_events_dates ON events (start_date, end_date);
CREATE INDEX idx_events_status ON events (status);
CREATE INDEX idx_events_discovery ON events (status, is_public, start_date, id);
CREATE INDEX idx_events_organizer ON events (organizer_id);
CREATE INDEX idx_events_venue ON events (venue_id);

CREATE TABLE payments (
  id SERIAL PRIMARY KEY,
  user_id VARCHAR(24) NOT NULL, -- MongoDB ObjectId reference
  event_id INTEGER REFERENCES events(id),
  amount DECIMAL(10,2) NOT NULL,
  currency VARCHAR(3) NOT NULL,
  payment_method VARCHAR(50) NOT NULL,
  status VARCHAR(20) NOT NULL,
  provider_transaction_id VARCHAR(255),
  provider VARCHAR(50) NOT NULL,
  payment_date TIMESTAMP WITH TIME ZONE,
  refund_status VARCHAR(20),
  refund_amount DECIMAL(10,2),
  refund_date TIMESTAMP WITH TIME ZONE,
  metadata JSONB,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW()
);
CREATE INDEX idx_payments_user ON payments (user_id);
CREATE INDEX idx_payments_event ON payments (event_id);
CREATE INDEX idx_payments_status ON payments (status);

CREATE TABLE event_registrations (
  id SERIAL PRIMARY KEY,
  event_id INTEGER REFERENCES events(id) ON DELETE CASCADE,
  user_id VARCHAR(24) NOT NULL, -- MongoDB ObjectId reference
  registration_date TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  status VARCHAR(20) DEFAULT 'pending'
    CHECK (status IN ('pending', 'confirmed', 'waitlisted', 'cancelled')),
  payment_status VARCHAR(20) DEFAULT 'unpaid',
  payment_id INTEGER REFERENCES payments(id),
  dietary_requirements TEXT,
  special_needs TEXT,
  checked_in BOOLEAN DEFAULT false,
  checked_in_at TIMESTAMP WITH TIME ZONE,
  cancelled_at TIMESTAMP WITH TIME ZONE,
  cancellation_reason TEXT,
  hold_expires_at TIMESTAMP WITH TIME ZONE,
  guardian_consent JSONB,
  updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_registrations_event ON event_registrations (event_id);
CREATE INDEX idx_registrations_user ON event_registrations (user_id);
CREATE INDEX idx_registrations_status ON event_registrations (status);
CREATE UNIQUE INDEX uq_registrations_active ON event_registrations (event_id, user_id)
  WHERE status <> 'cancelled';
CREATE INDEX idx_registrations_queue ON event_registrations (event_id, status, id);
CREATE INDEX idx_registrations_holds ON event_registrations (hold_expires_at)
  WHERE status = 'pending' AND hold_expires_at IS NOT NULL;

-- Great-circle distance in kilometres, as the SQLite adapter registers it.
CREATE FUNCTION rg_distance_km(lat1 float8, lng1 float8, lat2 float8, lng2 float8)
RETURNS float8 LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT 2 * 6371.0088 * asin(least(1.0, sqrt(
    sin(radians(lat2 - lat1) / 2) ^ 2 +
    cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lng2 - lng1) / 2) ^ 2)))
$$;
