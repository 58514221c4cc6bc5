-- `risinggen check --references` (src/domain/references.c): the people that
-- rows name, a page at a time in id order, and how many rows name one.

-- name: refs_registrations
SELECT DISTINCT user_id AS ref FROM event_registrations WHERE user_id > $1 ORDER BY user_id
LIMIT 500

-- name: refs_registrations_count
SELECT count(*) AS n FROM event_registrations WHERE user_id = $1

-- name: refs_payments
SELECT DISTINCT user_id AS ref FROM payments WHERE user_id > $1 ORDER BY user_id LIMIT 500

-- name: refs_payments_count
SELECT count(*) AS n FROM payments WHERE user_id = $1

-- name: refs_events
SELECT DISTINCT organizer_id AS ref FROM events WHERE organizer_id > $1 ORDER BY organizer_id
LIMIT 500

-- name: refs_events_count
SELECT count(*) AS n FROM events WHERE organizer_id = $1

-- name: refs_venues
SELECT DISTINCT created_by AS ref FROM venues WHERE created_by > $1 ORDER BY created_by LIMIT 500

-- name: refs_venues_count
SELECT count(*) AS n FROM venues WHERE created_by = $1

-- name: refs_tombstones
-- The ids erasures put in people's place: no document stands behind them.
SELECT tombstone_id AS ref FROM erasures WHERE tombstone_id > $1 ORDER BY tombstone_id LIMIT 500
