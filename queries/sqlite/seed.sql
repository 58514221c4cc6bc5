-- name: load_events
-- The bulk seed (src/domain/seed.c, --bulk): one INSERT per row, money given
-- as a decimal like PostgreSQL's and kept in minor units here.
INSERT INTO events (id, title, slug, description, start_date, end_date, venue_id, organizer_id,
                    max_participants, taken, status, type, is_featured, is_public,
                    cost_amount_minor, cost_currency, waitlist_enabled, hold_minutes, created_at,
                    updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
        CAST(round($15 * 100) AS INTEGER), $16, $17, $18, $19, $20)

-- name: load_registrations
INSERT INTO event_registrations (id, event_id, user_id, registration_date, status, payment_status,
                                 dietary_requirements, special_needs, checked_in, checked_in_at,
                                 cancelled_at, cancellation_reason, hold_expires_at,
                                 guardian_consent, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)

-- name: load_payments
INSERT INTO payments (id, user_id, event_id, registration_id, amount_minor, currency,
                      payment_method, status, provider_transaction_id, provider, payment_date,
                      refund_status, metadata, created_at, updated_at)
VALUES ($1, $2, $3, $4, CAST(round($5 * 100) AS INTEGER), $6, $7, $8, $9, $10, $11, $12, $13,
        $14, $15)

-- name: seed_sequences
-- INTEGER PRIMARY KEY continues after the largest id by itself: the next ids.
SELECT (SELECT COALESCE(max(id), 0) + 1 FROM events) AS events,
       (SELECT COALESCE(max(id), 0) + 1 FROM event_registrations) AS registrations,
       (SELECT COALESCE(max(id), 0) + 1 FROM payments) AS payments

-- name: seed_no_timeout
-- SQLite has no statement timeout.
SELECT '0' AS setting
