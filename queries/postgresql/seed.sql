-- name: load_events
-- The bulk seed (src/domain/seed.c, --bulk): rows in COPY's text format.
COPY events (id, title, slug, description, start_date, end_date, venue_id, organizer_id,
             max_participants, taken, status, type, is_featured, is_public, cost_amount,
             cost_currency, waitlist_enabled, hold_minutes, created_at, updated_at) FROM STDIN

-- name: load_registrations
COPY event_registrations (id, event_id, user_id, registration_date, status, payment_status,
                          dietary_requirements, special_needs, checked_in, checked_in_at,
                          cancelled_at, cancellation_reason, hold_expires_at, guardian_consent,
                          updated_at) FROM STDIN

-- name: load_payments
COPY payments (id, user_id, event_id, registration_id, amount, currency, payment_method, status,
               provider_transaction_id, provider, payment_date, refund_status, metadata,
               created_at, updated_at) FROM STDIN

-- name: seed_sequences
-- After a load with explicit ids: each SERIAL continues after the largest id.
SELECT setval(pg_get_serial_sequence('events', 'id'),
              (SELECT COALESCE(max(id), 0) + 1 FROM events), false) AS events,
       setval(pg_get_serial_sequence('event_registrations', 'id'),
              (SELECT COALESCE(max(id), 0) + 1 FROM event_registrations), false) AS registrations,
       setval(pg_get_serial_sequence('payments', 'id'),
              (SELECT COALESCE(max(id), 0) + 1 FROM payments), false) AS payments

-- name: seed_no_timeout
-- The seed's statements over millions of rows: no statement_timeout for the
-- rest of the transaction.
SELECT set_config('statement_timeout', '0', true) AS setting
