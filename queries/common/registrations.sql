-- name: event_take_place
UPDATE events SET taken = taken + 1, updated_at = $2
WHERE id = $1 AND status = 'published' AND (max_participants IS NULL OR taken < max_participants)
RETURNING taken

-- name: event_release_places
UPDATE events SET taken = taken - $2, updated_at = $3 WHERE id = $1 AND taken >= $2

-- name: registration_expire_holds
UPDATE event_registrations
SET status = 'cancelled', cancelled_at = $2, cancellation_reason = 'hold expired', updated_at = $2
WHERE event_id = $1 AND status = 'pending' AND hold_expires_at IS NOT NULL AND hold_expires_at < $2
  AND checked_in = CAST(0 AS BOOLEAN)
RETURNING id

-- name: events_with_expired_holds
SELECT DISTINCT event_id FROM event_registrations
WHERE status = 'pending' AND hold_expires_at IS NOT NULL AND hold_expires_at < $1
  AND checked_in = CAST(0 AS BOOLEAN)
LIMIT 100

-- name: registration_insert
INSERT INTO event_registrations (event_id, user_id, registration_date, status, payment_status,
  dietary_requirements, special_needs, hold_expires_at, guardian_consent, updated_at)
VALUES ($1, $2, $3, $4, 'unpaid', $5, $6, $7, $8, $3)
RETURNING id

-- name: registration_cancel_holding
UPDATE event_registrations
SET status = 'cancelled', cancelled_at = $2, cancellation_reason = $3, hold_expires_at = NULL,
    updated_at = $2
WHERE id = $1 AND status IN ('confirmed', 'pending')

-- name: registration_cancel_waiting
UPDATE event_registrations
SET status = 'cancelled', cancelled_at = $2, cancellation_reason = $3, updated_at = $2
WHERE id = $1 AND status = 'waitlisted'

-- name: registration_to_waitlist
-- A registration inserted as admitted whose event had no place left after all.
UPDATE event_registrations SET status = 'waitlisted', hold_expires_at = NULL
WHERE id = $1 AND status IN ('confirmed', 'pending')

-- name: registration_promote
UPDATE event_registrations SET status = $2, hold_expires_at = $3, updated_at = $4
WHERE id = $1 AND status = 'waitlisted'

-- name: registrations_by_user
SELECT r.id, r.event_id, r.user_id, r.registration_date, r.status, r.payment_status,
       r.payment_id, r.dietary_requirements, r.special_needs, r.checked_in, r.checked_in_at,
       r.cancelled_at, r.cancellation_reason, r.hold_expires_at, r.guardian_consent,
       e.title AS event_title, e.slug AS event_slug, e.start_date AS event_start_date,
       e.end_date AS event_end_date, e.status AS event_status, e.venue_id AS event_venue_id
FROM event_registrations r JOIN events e ON e.id = r.event_id
WHERE r.user_id = $1 AND r.id < $2
ORDER BY r.id DESC LIMIT $3

-- name: event_attendees
SELECT r.id, r.event_id, r.user_id, r.registration_date, r.status, r.payment_status,
       r.payment_id, r.dietary_requirements, r.special_needs, r.checked_in, r.checked_in_at,
       r.cancelled_at, r.cancellation_reason, r.hold_expires_at, r.guardian_consent
FROM event_registrations r
WHERE r.event_id = $1 AND (CAST($2 AS TEXT) IS NULL OR r.status = CAST($2 AS TEXT))
  AND (CAST($3 AS BOOLEAN) IS NULL OR r.checked_in = CAST($3 AS BOOLEAN))
  AND r.id > $4
ORDER BY r.id LIMIT $5

-- name: event_has_lapsed_holds
SELECT 1 AS lapsed FROM event_registrations
WHERE event_id = $1 AND status = 'pending' AND hold_expires_at IS NOT NULL AND hold_expires_at < $2
  AND checked_in = CAST(0 AS BOOLEAN)
LIMIT 1

-- name: registrations_confirm_pending
UPDATE event_registrations SET status = 'confirmed', hold_expires_at = NULL, updated_at = $2
WHERE event_id = $1 AND status = 'pending'

-- name: event_roster
-- Who holds a registration of the event that is not cancelled (one each,
-- uq_registrations_active), and when each pending hold lapses (NULL: it
-- does not): the sold-out memo's rows, at most $2.
SELECT user_id,
       CASE WHEN status = 'pending' AND checked_in = CAST(0 AS BOOLEAN) THEN hold_expires_at END
         AS hold_until
FROM event_registrations WHERE event_id = $1 AND status <> 'cancelled'
LIMIT $2
