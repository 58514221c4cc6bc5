-- name: event_get_for_admission
-- event_get with whether $2 holds a registration of the event that is not
-- cancelled: what an admission checks, in one round trip.
SELECT e.id, e.organizer_id, e.registration_deadline, e.end_date, e.max_participants, e.taken,
       e.status, e.is_public, (e.cost_amount * 100)::bigint AS cost_minor, e.cost_currency, e.waitlist_enabled, e.min_age,
       e.guardian_consent_under, e.hold_minutes,
       EXISTS (SELECT 1 FROM event_registrations r
               WHERE r.event_id = e.id AND r.user_id = $2 AND r.status <> 'cancelled') AS registered
FROM events e WHERE e.id = $1

-- name: registration_get
SELECT r.id, r.event_id, r.user_id, r.registration_date, r.status, r.payment_status,
       r.payment_id, r.dietary_requirements, r.special_needs, r.checked_in, r.checked_in_at,
       r.cancelled_at, r.cancellation_reason, r.hold_expires_at, r.guardian_consent,
       e.organizer_id AS event_organizer_id, (e.cost_amount * 100)::bigint AS event_cost_minor,
       e.hold_minutes AS event_hold_minutes
FROM event_registrations r JOIN events e ON e.id = r.event_id
WHERE r.id = $1

-- name: registration_check_in
UPDATE event_registrations SET checked_in = true,
  checked_in_at = COALESCE(checked_in_at, $2), updated_at = $2
WHERE id = $1 AND status IN ('confirmed', 'pending')

-- name: registration_first_waitlisted
-- Locks the row it returns; concurrent promoters each take a different one.
SELECT id FROM event_registrations WHERE event_id = $1 AND status = 'waitlisted'
ORDER BY id LIMIT 1
FOR UPDATE SKIP LOCKED

-- name: registration_admit
-- A registration and its place in one statement, run on its own (no
-- transaction around it), for an event that keeps no waiting list: the
-- event row's lock is then held inside the server, for this statement and
-- its commit only. The place is taken only while the event is published,
-- open for registration, has a place free and nobody waits for one; the
-- row goes in only with the place, and a second active registration of the
-- person fails on uq_registrations_active, which undoes the take. No row:
-- the caller decides inside a transaction (full, lapsed holds, people
-- waiting). Parameters as registration_insert. Needs RG_REL_CAP_WRITABLE_CTE
-- (SQLite has no data-changing WITH; it admits in the transaction).
WITH place AS (
  UPDATE events SET taken = taken + 1, updated_at = CAST($3 AS TIMESTAMPTZ)
  WHERE id = $1 AND status = 'published'
    AND COALESCE(registration_deadline, end_date) >= CAST($3 AS TIMESTAMPTZ)
    AND (max_participants IS NULL OR taken < max_participants)
    AND NOT EXISTS (SELECT 1 FROM event_registrations w
                    WHERE w.event_id = $1 AND w.status = 'waitlisted')
  RETURNING id)
INSERT INTO event_registrations (event_id, user_id, registration_date, status, payment_status,
  dietary_requirements, special_needs, hold_expires_at, guardian_consent, updated_at)
SELECT id, CAST($2 AS TEXT), CAST($3 AS TIMESTAMPTZ), CAST($4 AS TEXT), 'unpaid',
       CAST($5 AS TEXT), CAST($6 AS TEXT), CAST($7 AS TIMESTAMPTZ), CAST($8 AS JSONB),
       CAST($3 AS TIMESTAMPTZ)
FROM place
RETURNING id
