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

-- name: registration_admit_many
-- Registrations and their places in one statement, run on its own (no
-- transaction around it), for a group of people ($2, a JSON array of
-- {ord, user_id, status, diet, needs, hold, consent}) and an event that
-- keeps no waiting list: the event row's lock is then held inside the
-- server, for this statement and its commit only, once for the group. The
-- event row is locked first (FOR NO KEY UPDATE, as an UPDATE locks it, so
-- that the FOR KEY SHARE of an insert that references the event does not
-- make it wait; it reads the newest version) and
-- gives as many places as are free, to the people in `ord` order; places
-- are taken only while the event is published, open for registration, has
-- a place free and nobody waits for one. A person who holds a registration
-- in the statement's snapshot takes no place; one registered since fails
-- the statement on uq_registrations_active, which undoes it all. Rows:
-- the registrations made (the columns of a registration's view); the
-- others are decided by the caller inside a transaction (full, lapsed
-- holds, people waiting, registered).
-- Needs RG_REL_CAP_WRITABLE_CTE (SQLite has no data-changing WITH; there a
-- group is one write transaction, src/domain/registration_admit.c).
WITH req AS (
  SELECT u.ord, u.user_id, u.status, u.diet, u.needs, u.hold, u.consent
  FROM jsonb_to_recordset(CAST($2 AS JSONB))
       AS u(ord INT, user_id TEXT, status TEXT, diet TEXT, needs TEXT, hold TIMESTAMPTZ,
            consent JSONB)
  -- OFFSET 0 keeps the test a lookup by uq_registrations_active for each
  -- person: as an anti-join, a generic plan hashes every registration of
  -- the event (2.6 ms at 8,000) for a group of a few people.
  WHERE NOT EXISTS (SELECT 1 FROM event_registrations r
                    WHERE r.event_id = $1 AND r.user_id = u.user_id AND r.status <> 'cancelled'
                    OFFSET 0)),
ev AS (
  SELECT e.id, CASE WHEN e.max_participants IS NULL THEN (SELECT count(*) FROM req)
                    ELSE LEAST((SELECT count(*) FROM req), e.max_participants - e.taken) END AS n
  FROM events e
  WHERE e.id = $1 AND e.status = 'published'
    AND COALESCE(e.registration_deadline, e.end_date) >= CAST($3 AS TIMESTAMPTZ)
    AND (e.max_participants IS NULL OR e.taken < e.max_participants)
    AND NOT EXISTS (SELECT 1 FROM event_registrations w
                    WHERE w.event_id = $1 AND w.status = 'waitlisted')
  FOR NO KEY UPDATE OF e),
place AS (
  UPDATE events e SET taken = e.taken + ev.n, updated_at = CAST($3 AS TIMESTAMPTZ)
  FROM ev WHERE e.id = ev.id AND ev.n > 0
  RETURNING ev.n),
chosen AS (SELECT * FROM req ORDER BY ord LIMIT COALESCE((SELECT n FROM place), 0))
INSERT INTO event_registrations (event_id, user_id, registration_date, status, payment_status,
  dietary_requirements, special_needs, hold_expires_at, guardian_consent, updated_at)
SELECT $1, user_id, CAST($3 AS TIMESTAMPTZ), status, 'unpaid', diet, needs, hold, consent,
       CAST($3 AS TIMESTAMPTZ)
FROM chosen
RETURNING id, event_id, user_id, registration_date, status, payment_status, payment_id,
          dietary_requirements, special_needs, checked_in, checked_in_at, cancelled_at,
          cancellation_reason, hold_expires_at, guardian_consent
